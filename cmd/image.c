/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek image import|ls|rm|pull|prune`: the node's image store from the command line, the
 * air-gap workflow's tool (import archives made with `docker save` or skopeo) and a way to
 * pre-pull. Works on <data-dir>/agent/images whether or not an agent is running: the store
 * serialises changes between processes itself.
 */
#include <stdio.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "node/node.h"

#define DEFAULT_DATA_DIR   "/var/lib/edgek"
#define DEFAULT_REGISTRIES "/etc/edgek/registries.yaml"

static char *data_dir;
static char *platform;
static char *registries;
static char *auth_file;

static const ek_flag_t image_flags[] = {
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR",
      "data directory (default " DEFAULT_DATA_DIR "); images live in agent/images" },
    { "platform", 0, EK_FLAG_STRING, &platform, NULL, "OS/ARCH[/VARIANT]",
      "platform to import or pull (default: this node's); `all` imports every platform" },
    { "private-registry", 0, EK_FLAG_STRING, &registries, "EDGEK_PRIVATE_REGISTRY", "FILE",
      "registry mirrors and credentials (default " DEFAULT_REGISTRIES ")" },
    { "auth-file", 0, EK_FLAG_STRING, &auth_file, NULL, "FILE",
      "pull: credentials in Docker's config.json format (as in a dockerconfigjson Secret)" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

static ek_image_store_t *open_store(bool for_pull, ek_error_t **err)
{
    const char *dir = data_dir && *data_dir ? data_dir : DEFAULT_DATA_DIR;
    ek_autofree char *root = ek_xasprintf("%s/agent/images", dir);
    ek_image_store_options_t o = {
        .registries_yaml = registries && *registries ? registries : DEFAULT_REGISTRIES,
        .platform = platform && *platform && strcmp(platform, "all") != 0 ? platform : NULL,
        .progress = for_pull && isatty(STDERR_FILENO),
    };
    return ek_image_store_open(root, &o, err);
}

static void human_size(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
    double v = (double)n;
    size_t u = 0;
    while (v >= 1000 && u + 1 < EK_ARRAY_SIZE(units)) {
        v /= 1000;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static int do_import(ek_image_store_t *s, int n, char **files)
{
    if (n == 0) {
        fprintf(stderr, "edgek image import: want FILE...\n");
        return 2;
    }
    ek_image_import_options_t o = { .platform = platform && *platform ? platform : NULL };
    int rc = 0;
    for (int i = 0; i < n; i++) {
        ek_error_t *err = NULL;
        ek_strlist_t names = { 0 };
        uint64_t t0 = ek_now_ms();
        if (ek_image_import(s, files[i], &o, &names, &err) < 0) {
            rc = ek_cmd_fail(err);
            continue;
        }
        for (size_t k = 0; k < names.n; k++) {
            printf("imported %s\n", names.v[k]);
        }
        EK_LOG(EK_DEBUG, "image", "imported archive=%s images=%zu ms=%llu", files[i], names.n,
               (unsigned long long)(ek_now_ms() - t0));
        ek_strlist_free(&names);
    }
    return rc;
}

static void print_row(const char *name, const ek_image_info_t *im)
{
    char size[32];
    human_size(im->size, size, sizeof(size));
    ek_autofree char *repo = ek_xstrdup(name ? name : "<none>");
    const char *tag = "<none>";
    char *colon = strrchr(repo, ':');
    if (name && colon && !strchr(colon, '/')) {
        *colon = '\0';
        tag = colon + 1;
    }
    printf("%-44s %-16s %-71s %s\n", repo, tag, im->digest, size);
}

static int do_ls(ek_image_store_t *s)
{
    ek_error_t *err = NULL;
    size_t n;
    ek_image_info_t **list = ek_image_list(s, &n, &err);
    if (!list) {
        return ek_cmd_fail(err);
    }
    printf("%-44s %-16s %-71s %s\n", "REPOSITORY", "TAG", "DIGEST", "SIZE");
    for (size_t i = 0; i < n; i++) {
        if (list[i]->n_names == 0) {
            print_row(NULL, list[i]);
        }
        for (size_t k = 0; k < list[i]->n_names; k++) {
            print_row(list[i]->names[k], list[i]);
        }
        ek_image_info_free(list[i]);
    }
    free(list);
    return 0;
}

static int do_rm(ek_image_store_t *s, int n, char **refs)
{
    if (n == 0) {
        fprintf(stderr, "edgek image rm: want REF...\n");
        return 2;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        ek_error_t *err = NULL;
        if (ek_image_remove(s, refs[i], &err) < 0) {
            rc = ek_cmd_fail(err);
        } else {
            printf("removed %s\n", refs[i]);
        }
    }
    return rc;
}

static int do_pull(ek_image_store_t *s, int n, char **refs)
{
    if (n == 0) {
        fprintf(stderr, "edgek image pull: want REF...\n");
        return 2;
    }
    ek_autofree char *auth = NULL;
    ek_error_t *err = NULL;
    if (auth_file && *auth_file && !(auth = ek_file_read(auth_file, 1 << 20, NULL, &err))) {
        return ek_cmd_fail(err);
    }
    ek_image_pull_options_t o = { .auth_json = auth };
    int rc = 0;
    for (int i = 0; i < n; i++) {
        ek_image_info_t *im = ek_image_pull(s, refs[i], &o, &err);
        if (!im) {
            rc = ek_cmd_fail(err);
            err = NULL;
            continue;
        }
        printf("pulled %s %s\n", im->n_names ? im->names[0] : refs[i], im->digest);
        ek_image_info_free(im);
    }
    return rc;
}

static int run_image(int nargs, char **argv)
{
    if (nargs < 1) {
        fprintf(stderr, "edgek image: want import, ls, rm, pull or prune\n");
        return 2;
    }
    const char *action = argv[1];
    static const char *const actions[] = { "import", "ls", "list", "rm", "pull", "prune" };
    bool known = false;
    for (size_t i = 0; i < EK_ARRAY_SIZE(actions); i++) {
        known = known || strcmp(action, actions[i]) == 0;
    }
    if (!known) {
        fprintf(stderr, "edgek image: unknown action `%s`; want import, ls, rm, pull or prune\n",
                action);
        return 2;
    }
    ek_error_t *err = NULL;
    ek_image_store_t *s = open_store(strcmp(action, "pull") == 0, &err);
    if (!s) {
        return ek_cmd_fail(err);
    }
    int rc;
    if (strcmp(action, "import") == 0) {
        rc = do_import(s, nargs - 1, argv + 2);
    } else if (strcmp(action, "ls") == 0 || strcmp(action, "list") == 0) {
        rc = do_ls(s);
    } else if (strcmp(action, "rm") == 0) {
        rc = do_rm(s, nargs - 1, argv + 2);
    } else if (strcmp(action, "pull") == 0) {
        rc = do_pull(s, nargs - 1, argv + 2);
    } else {
        int64_t freed = ek_image_prune(s, &err);
        char size[32];
        human_size(freed > 0 ? (uint64_t)freed : 0, size, sizeof(size));
        rc = freed < 0 ? ek_cmd_fail(err) : (printf("freed %s\n", size), 0);
    }
    ek_image_store_close(s);
    return rc;
}

const ek_cmd_t ek_cmd_image = {
    .name = "image",
    .summary = "import, list, remove, pull and prune the node's container images",
    .usage = "import FILE... | ls | rm REF... | pull REF... | prune",
    .flags = image_flags,
    .run = run_image,
};
