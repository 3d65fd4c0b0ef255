/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table printers: for each kind, realistic objects and the exact cells Kubernetes 1.32
 * prints for them, plus the column definitions and HumanDuration's boundaries. Objects and
 * expected rows are written as JSON with single quotes (turned into double quotes before
 * parsing) so the cases stay readable. All ages are relative to NOW, 2026-11-25T12:00:00Z.
 */
#include "api/api.h"
#include "tests/unit/test.h"

#define NOW ((time_t)1795608000) /* 2026-11-25T12:00:00Z */

/* Parses single-quoted JSON. */
static json_t *sq(const char *text)
{
    ek_autofree char *s = ek_xstrdup(text);
    for (char *p = s; *p; p++) {
        *p = *p == '\'' ? '"' : *p;
    }
    ek_error_t *err = NULL;
    json_t *v = ek_json_parse(s, strlen(s), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test JSON %s: %s", text, ek_error_msg(err));
    }
    return v;
}

/* The printer's cells for obj, as compact JSON. Also checks there is one cell per column. */
static char *row_json(const char *file, int line, const char *group, const char *kind,
                      const json_t *obj)
{
    const ek_printer_t *p = ek_printer_for(group, kind);
    ek_auto(json_t) cells = json_array();
    p->row(obj, NOW, cells);
    if (json_array_size(cells) != p->n_columns) {
        ek__test_fail(file, line, "%s/%s: %zu cells for %zu columns", group, kind,
                      json_array_size(cells), p->n_columns);
    }
    return ek_json_dumps(cells);
}

static void check_row(const char *file, int line, const char *group, const char *kind,
                      const char *obj_text, const char *want_text)
{
    ek_auto(json_t) obj = sq(obj_text);
    ek_auto(json_t) want = sq(want_text);
    ek_autofree char *got = row_json(file, line, group, kind, obj);
    ek_autofree char *w = ek_json_dumps(want);
    if (strcmp(got, w) != 0) {
        ek__test_fail(file, line, "%s/%s row\n  got:  %s\n  want: %s", group, kind, got, w);
    }
}
#define CHECK_ROW(group, kind, obj, want) check_row(__FILE__, __LINE__, group, kind, obj, want)

/* Columns as "Name:type[:format][*]" joined by '|', '*' marking -o wide (priority 1). */
static void check_columns(const char *file, int line, const char *group, const char *kind,
                          const char *want)
{
    const ek_printer_t *p = ek_printer_for(group, kind);
    ek_autobuf b = EK_BUF_INIT;
    for (size_t i = 0; i < p->n_columns; i++) {
        const ek_column_t *c = &p->columns[i];
        ek_buf_printf(&b, "%s%s:%s%s%s%s", i ? "|" : "", c->name, c->type, *c->format ? ":" : "",
                      c->format, c->priority ? "*" : "");
        if (!c->description || !*c->description) {
            ek__test_fail(file, line, "%s/%s column %s has no description", group, kind, c->name);
        }
    }
    if (strcmp(b.data, want) != 0) {
        ek__test_fail(file, line, "%s/%s columns\n  got:  %s\n  want: %s", group, kind, b.data,
                      want);
    }
}
#define CHECK_COLUMNS(group, kind, want) check_columns(__FILE__, __LINE__, group, kind, want)

/* ---- HumanDuration ---- */

TEST(printers_human_age_boundaries)
{
    static const struct {
        long long secs;
        const char *want;
    } cases[] = {
        { -3, "<invalid>" },
        { -2, "<invalid>" },
        { -1, "0s" }, /* one second of clock skew is forgiven */
        { 0, "0s" },
        { 45, "45s" },
        { 119, "119s" },
        { 120, "2m" },
        { 150, "2m30s" },
        { 599, "9m59s" },
        { 600, "10m" },
        { 10799, "179m" },
        { 10800, "3h" },
        { 3 * 3600 + 12 * 60 + 59, "3h12m" },
        { 8 * 3600 - 1, "7h59m" },
        { 8 * 3600, "8h" },
        { 48 * 3600 - 1, "47h" },
        { 48 * 3600, "2d" },
        { 51 * 3600 + 59 * 60, "2d3h" },
        { 8 * 86400 - 1, "7d23h" },
        { 8 * 86400, "8d" },
        { 85 * 86400 + 3600, "85d" },
        { 730 * 86400 - 1, "729d" },
        { 730 * 86400, "2y" },
        { 760 * 86400, "2y30d" },
        { 8 * 365 * 86400 - 1, "7y364d" },
        { 8 * 365 * 86400, "8y" },
        { 300LL * 365 * 86400, "292y" }, /* Go durations saturate at about 292 years */
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        char buf[16];
        const char *got = ek_human_age(NOW - (time_t)cases[i].secs, NOW, buf);
        ASSERT_TRUE(got == buf);
        if (strcmp(got, cases[i].want) != 0) {
            ek__test_fail(__FILE__, __LINE__, "%llds: got %s, want %s", cases[i].secs, got,
                          cases[i].want);
        }
    }
}

/* ---- Pod ---- */

TEST(printers_pod_columns)
{
    CHECK_COLUMNS("", "Pod",
                  "Name:string:name|Ready:string|Status:string|Restarts:string|Age:string|"
                  "IP:string*|Node:string*|Nominated Node:string*|Readiness Gates:string*");
}

struct pod_case {
    const char *name;
    const char *obj;
    const char *want;
};

static const struct pod_case pod_cases[] = {
    { "running",
      "{'metadata':{'name':'web-0','creationTimestamp':'2026-11-25T11:55:00Z'},"
      "'spec':{'nodeName':'edge1','containers':[{'name':'web'}]},'status':{"
      "'phase':'Running','podIP':'10.42.0.5','podIPs':[{'ip':'10.42.0.5'}],"
      "'conditions':[{'type':'Ready','status':'True'}],'containerStatuses':[{"
      "'name':'web','ready':true,'restartCount':0,'state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['web-0','1/1','Running','0','5m','10.42.0.5','edge1','<none>','<none>']" },
    { "pending unscheduled",
      "{'metadata':{'name':'p','creationTimestamp':'2026-11-25T11:59:15Z'},'spec':{"
      "'containers':[{'name':'a'},{'name':'b'}]},'status':{'phase':'Pending'}}",
      "['p','0/2','Pending','0','45s','<none>','<none>','<none>','<none>']" },
    { "first init container running",
      "{'metadata':{'name':'i','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'i1'},{'name':'i2'}],'containers':[{'name':'app'}]},"
      "'status':{'phase':'Pending','conditions':[{'type':'Initialized',"
      "'status':'False'}],'initContainerStatuses':[{'name':'i1','state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}},{'name':'i2','state':{'waiting':{"
      "'reason':'PodInitializing'}}}],'containerStatuses':[{'name':'app','state':{"
      "'waiting':{'reason':'PodInitializing'}}}]}}",
      "['i','0/1','Init:0/2','0','5m','<none>','<none>','<none>','<none>']" },
    { "second init container, first one done",
      "{'metadata':{'name':'i','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'i1'},{'name':'i2'}],'containers':[{'name':'app'}]},"
      "'status':{'phase':'Pending','initContainerStatuses':[{'name':'i1',"
      "'restartCount':4,'state':{'terminated':{'exitCode':0,'reason':'Completed'}}},{"
      "'name':'i2','state':{'waiting':{'reason':'PodInitializing'}}}]}}",
      "['i','0/1','Init:1/2','4','5m','<none>','<none>','<none>','<none>']" },
    { "init container crash looping",
      "{'metadata':{'name':'i','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},'status':{"
      "'phase':'Pending','initContainerStatuses':[{'name':'i1','restartCount':3,"
      "'lastState':{'terminated':{'exitCode':1,'reason':'Error',"
      "'finishedAt':'2026-11-25T11:58:00Z'}},'state':{'waiting':{"
      "'reason':'CrashLoopBackOff'}}}]}}",
      "['i','0/1','Init:CrashLoopBackOff','3 (2m ago)','5m','<none>','<none>',"
      "'<none>','<none>']" },
    { "init container failed with a reason",
      "{'metadata':{'name':'i','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},'status':{"
      "'phase':'Failed','initContainerStatuses':[{'name':'i1','state':{'terminated':{"
      "'exitCode':1,'reason':'Error'}}}]}}",
      "['i','0/1','Init:Error','0','5m','<none>','<none>','<none>','<none>']" },
    { "init container killed by a signal",
      "{'metadata':{'name':'i','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},'status':{"
      "'phase':'Pending','initContainerStatuses':[{'name':'i1','state':{"
      "'terminated':{'exitCode':137,'signal':9}}}]}}",
      "['i','0/1','Init:Signal:9','0','5m','<none>','<none>','<none>','<none>']" },
    { "init container exit code without reason",
      "{'metadata':{'name':'i','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'i1'}],'containers':[{'name':'a'}]},'status':{"
      "'phase':'Pending','initContainerStatuses':[{'name':'i1','state':{"
      "'terminated':{'exitCode':2}}}]}}",
      "['i','0/1','Init:ExitCode:2','0','5m','<none>','<none>','<none>','<none>']" },
    { "sidecar ready; only sidecar and app restarts count once initialized",
      "{'metadata':{'name':'s','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'setup'},{'name':'proxy','restartPolicy':'Always'}],"
      "'containers':[{'name':'app'}]},'status':{'phase':'Running','conditions':[{"
      "'type':'Initialized','status':'True'},{'type':'Ready','status':'True'}],"
      "'initContainerStatuses':[{'name':'setup','restartCount':4,'lastState':{"
      "'terminated':{'exitCode':1,'finishedAt':'2026-11-25T11:50:00Z'}},'state':{"
      "'terminated':{'exitCode':0,'reason':'Completed'}}},{'name':'proxy',"
      "'started':true,'ready':true,'restartCount':1,'lastState':{'terminated':{"
      "'exitCode':1,'finishedAt':'2026-11-25T11:57:00Z'}},'state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}}],'containerStatuses':[{'name':'app',"
      "'ready':true,'restartCount':2,'lastState':{'terminated':{'exitCode':1,"
      "'finishedAt':'2026-11-25T11:56:00Z'}},'state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['s','2/2','Running','3 (3m ago)','5m','<none>','<none>','<none>','<none>']" },
    { "sidecar not started yet holds initialization",
      "{'metadata':{'name':'s','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'initContainers':[{'name':'setup'},{'name':'proxy','restartPolicy':'Always'}],"
      "'containers':[{'name':'app'}]},'status':{'phase':'Pending',"
      "'initContainerStatuses':[{'name':'setup','state':{'terminated':{"
      "'exitCode':0}}},{'name':'proxy','started':false,'ready':false,'state':{"
      "'running':{'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['s','0/2','Init:1/2','0','5m','<none>','<none>','<none>','<none>']" },
    { "terminating",
      "{'metadata':{'name':'t','creationTimestamp':'2026-11-25T11:55:00Z',"
      "'deletionTimestamp':'2026-11-25T11:59:30Z'},'spec':{'containers':[{"
      "'name':'a'}]},'status':{'phase':'Running','containerStatuses':[{'name':'a',"
      "'ready':true,'state':{'running':{'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['t','1/1','Terminating','0','5m','<none>','<none>','<none>','<none>']" },
    { "deleted while its node is lost",
      "{'metadata':{'name':'n','creationTimestamp':'2026-11-25T11:55:00Z',"
      "'deletionTimestamp':'2026-11-25T11:59:30Z'},'spec':{'containers':[{"
      "'name':'a'}]},'status':{'phase':'Running','reason':'NodeLost'}}",
      "['n','0/1','Unknown','0','5m','<none>','<none>','<none>','<none>']" },
    { "node lost, not deleted",
      "{'metadata':{'name':'n','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Running',"
      "'reason':'NodeLost'}}",
      "['n','0/1','NodeLost','0','5m','<none>','<none>','<none>','<none>']" },
    { "completed, and deleting a finished pod keeps its status",
      "{'metadata':{'name':'c','creationTimestamp':'2026-11-25T11:55:00Z',"
      "'deletionTimestamp':'2026-11-25T11:59:30Z'},'spec':{'containers':[{"
      "'name':'a'}]},'status':{'phase':'Succeeded','containerStatuses':[{'name':'a',"
      "'ready':false,'state':{'terminated':{'exitCode':0,'reason':'Completed'}}}]}}",
      "['c','0/1','Completed','0','5m','<none>','<none>','<none>','<none>']" },
    { "one container completed, another still running and not ready",
      "{'metadata':{'name':'c','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'},{'name':'b'}]},'status':{'phase':'Running',"
      "'conditions':[{'type':'Ready','status':'False'}],'containerStatuses':[{"
      "'name':'a','state':{'terminated':{'exitCode':0,'reason':'Completed'}}},{"
      "'name':'b','ready':true,'state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['c','1/2','NotReady','0','5m','<none>','<none>','<none>','<none>']" },
    { "one container completed, another running, pod ready (any True Ready condition)",
      "{'metadata':{'name':'c','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'},{'name':'b'}]},'status':{'phase':'Running',"
      "'conditions':[{'type':'Ready','status':'False'},{'type':'Ready','status':'True'}],"
      "'containerStatuses':[{"
      "'name':'a','state':{'terminated':{'exitCode':0,'reason':'Completed'}}},{"
      "'name':'b','ready':true,'state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['c','1/2','Running','0','5m','<none>','<none>','<none>','<none>']" },
    { "image pull error",
      "{'metadata':{'name':'e','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Pending','containerStatuses':["
      "{'name':'a','ready':false,'state':{'waiting':{'reason':'ErrImagePull',"
      "'message':'not found'}}}]}}",
      "['e','0/1','ErrImagePull','0','5m','<none>','<none>','<none>','<none>']" },
    { "the first container in spec order wins",
      "{'metadata':{'name':'e','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'},{'name':'b'}]},'status':{'phase':'Pending',"
      "'containerStatuses':[{'name':'a','state':{'waiting':{"
      "'reason':'ImagePullBackOff'}}},{'name':'b','state':{'waiting':{"
      "'reason':'ContainerCreating'}}}]}}",
      "['e','0/2','ImagePullBackOff','0','5m','<none>','<none>','<none>','<none>']" },
    { "crash loop after an OOM kill",
      "{'metadata':{'name':'o','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Running','containerStatuses':["
      "{'name':'a','restartCount':5,'lastState':{'terminated':{'exitCode':137,"
      "'reason':'OOMKilled','finishedAt':'2026-11-25T11:59:30Z'}},'state':{"
      "'waiting':{'reason':'CrashLoopBackOff'}}}]}}",
      "['o','0/1','CrashLoopBackOff','5 (30s ago)','5m','<none>','<none>','<none>','<none>']" },
    { "OOM killed",
      "{'metadata':{'name':'o','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Running','containerStatuses':["
      "{'name':'a','state':{'terminated':{'exitCode':137,'reason':'OOMKilled'}}}]}}",
      "['o','0/1','OOMKilled','0','5m','<none>','<none>','<none>','<none>']" },
    { "terminated by a signal, no reason",
      "{'metadata':{'name':'o','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Running','containerStatuses':["
      "{'name':'a','state':{'terminated':{'exitCode':143,'signal':15}}}]}}",
      "['o','0/1','Signal:15','0','5m','<none>','<none>','<none>','<none>']" },
    { "exit code, no reason",
      "{'metadata':{'name':'o','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Running','containerStatuses':["
      "{'name':'a','state':{'terminated':{'exitCode':3}}}]}}",
      "['o','0/1','ExitCode:3','0','5m','<none>','<none>','<none>','<none>']" },
    { "evicted",
      "{'metadata':{'name':'ev','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'nodeName':'edge1','containers':[{'name':'a'}]},'status':{'phase':'Failed',"
      "'reason':'Evicted','message':'low on memory'}}",
      "['ev','0/1','Evicted','0','5m','<none>','edge1','<none>','<none>']" },
    { "scheduling gated",
      "{'metadata':{'name':'g','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Pending','conditions':[{"
      "'type':'PodScheduled','status':'False','reason':'SchedulingGated'}]}}",
      "['g','0/1','SchedulingGated','0','5m','<none>','<none>','<none>','<none>']" },
    { "wide columns: podIPs, nominated node, readiness gates",
      "{'metadata':{'name':'w','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}],'readinessGates':[{"
      "'conditionType':'example.com/lb'},{'conditionType':'example.com/dns'}]},"
      "'status':{'phase':'Pending','nominatedNodeName':'edge2','podIPs':[{"
      "'ip':'fd00::5'},{'ip':'10.42.0.9'}],'conditions':[{'type':'example.com/lb',"
      "'status':'True'},{'type':'example.com/dns','status':'False'}]}}",
      "['w','0/1','Pending','0','5m','fd00::5','<none>','edge2','1/2']" },
    { "restarts without a last termination time",
      "{'metadata':{'name':'r','creationTimestamp':'2026-11-25T11:55:00Z'},'spec':{"
      "'containers':[{'name':'a'}]},'status':{'phase':'Running','containerStatuses':["
      "{'name':'a','ready':true,'restartCount':2,'state':{'running':{"
      "'startedAt':'2026-11-25T11:55:02Z'}}}]}}",
      "['r','1/1','Running','2','5m','<none>','<none>','<none>','<none>']" },
};

TEST(printers_pod_rows)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(pod_cases); i++) {
        ek_auto(json_t) obj = sq(pod_cases[i].obj);
        ek_auto(json_t) want = sq(pod_cases[i].want);
        ek_autofree char *got = row_json(__FILE__, __LINE__, "", "Pod", obj);
        ek_autofree char *w = ek_json_dumps(want);
        if (strcmp(got, w) != 0) {
            ek__test_fail(__FILE__, __LINE__, "pod case \"%s\"\n  got:  %s\n  want: %s",
                          pod_cases[i].name, got, w);
        }
    }
}

/* ---- Node ---- */

TEST(printers_node)
{
    CHECK_COLUMNS("", "Node",
                  "Name:string:name|Status:string|Roles:string|Age:string|Version:string|"
                  "Internal-IP:string*|External-IP:string*|OS-Image:string*|"
                  "Kernel-Version:string*|Container-Runtime:string*");
    CHECK_ROW("", "Node",
              "{'metadata':{'name':'edge1','creationTimestamp':'2026-11-22T09:00:00Z',"
              "'labels':{'node-role.kubernetes.io/master':'true',"
              "'node-role.kubernetes.io/control-plane':'true',"
              "'kubernetes.io/hostname':'edge1'}},'status':{'conditions':[{"
              "'type':'MemoryPressure','status':'False'},{'type':'Ready','status':'True'}],"
              "'addresses':[{'type':'InternalIP','address':'192.168.1.10'},{"
              "'type':'Hostname','address':'edge1'}],'nodeInfo':{"
              "'kubeletVersion':'v1.32.0+edgek','osImage':'Debian GNU/Linux 12 (bookworm)',"
              "'kernelVersion':'6.1.0-18-arm64','containerRuntimeVersion':'edgek://0.1.0'}}}",
              "['edge1','Ready','control-plane,master','3d3h','v1.32.0+edgek','192.168.1.10',"
              "'<none>','Debian GNU/Linux 12 (bookworm)','6.1.0-18-arm64','edgek://0.1.0']");
    /* Cordoned and not ready; the legacy role label; an empty role suffix is no role. */
    CHECK_ROW("", "Node",
              "{'metadata':{'name':'pi2','creationTimestamp':'2026-11-25T04:00:00Z',"
              "'labels':{'kubernetes.io/role':'worker','node-role.kubernetes.io/':'',"
              "'node-role.kubernetes.io/worker':''}},'spec':{'unschedulable':true},'status':{"
              "'conditions':[{'type':'Ready','status':'Unknown'}],'addresses':[{"
              "'type':'ExternalIP','address':'203.0.113.7'},{'type':'InternalIP',"
              "'address':'10.0.0.2'},{'type':'InternalIP','address':'10.0.0.3'}]}}",
              "['pi2','NotReady,SchedulingDisabled','worker','8h','','10.0.0.2',"
              "'203.0.113.7','<unknown>','<unknown>','<unknown>']");
    CHECK_ROW("", "Node", "{'metadata':{'name':'new'}}",
              "['new','Unknown','<none>','<unknown>','','<none>','<none>','<unknown>',"
              "'<unknown>','<unknown>']");
}

/* ---- Service, Endpoints ---- */

TEST(printers_service)
{
    CHECK_COLUMNS("", "Service",
                  "Name:string:name|Type:string|Cluster-IP:string|External-IP:string|"
                  "Port(s):string|Age:string|Selector:string*");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'ClusterIP','clusterIP':'10.43.0.10','clusterIPs':['10.43.0.10'],"
              "'ports':[{'port':80,'protocol':'TCP'},{'port':443,'protocol':'TCP'}],"
              "'selector':{'tier':'frontend','app':'web'}}}",
              "['web','ClusterIP','10.43.0.10','<none>','80/TCP,443/TCP','24h','app=web,"
              "tier=frontend']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'np','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'NodePort','clusterIP':'10.43.0.11','ports':[{'port':80,"
              "'nodePort':30080,'protocol':'TCP'},{'port':53,'protocol':'UDP'}],"
              "'externalIPs':['192.168.1.50']}}",
              "['np','NodePort','10.43.0.11','192.168.1.50','80:30080/TCP,53/UDP','24h',"
              "'<none>']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'lb','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'LoadBalancer','clusterIP':'10.43.0.12','ports':[{'port':80,"
              "'nodePort':31000,'protocol':'TCP'}]}}",
              "['lb','LoadBalancer','10.43.0.12','<pending>','80:31000/TCP','24h','<none>']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'lb','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'LoadBalancer','clusterIP':'10.43.0.12'},'status':{'loadBalancer':{"
              "'ingress':[{'ip':'10.0.0.9'},{'hostname':'lb.example.com'},{'ip':'10.0.0.1'},{"
              "'ip':'10.0.0.9'}]}}}",
              "['lb','LoadBalancer','10.43.0.12','10.0.0.1,10.0.0.9,lb.example.com','<none>',"
              "'24h','<none>']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'lb','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'LoadBalancer','externalIPs':['1.2.3.4']},'status':{'loadBalancer':{"
              "'ingress':[{'ip':'10.0.0.1'}]}}}",
              "['lb','LoadBalancer','<none>','10.0.0.1,1.2.3.4','<none>','24h','<none>']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'lb','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'LoadBalancer','externalIPs':['1.2.3.4']}}",
              "['lb','LoadBalancer','<none>','1.2.3.4','<none>','24h','<none>']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'db','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'ExternalName','externalName':'db.example.com'}}",
              "['db','ExternalName','<none>','db.example.com','<none>','24h','<none>']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'hl','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'ClusterIP','clusterIP':'None','clusterIPs':['None'],'selector':{"
              "'app':'db'}}}",
              "['hl','ClusterIP','None','<none>','<none>','24h','app=db']");
    CHECK_ROW("", "Service",
              "{'metadata':{'name':'ds','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'type':'ClusterIP','clusterIPs':['10.43.0.20','fd00::20'],'ports':[{"
              "'port':8080,'protocol':'SCTP'}]}}",
              "['ds','ClusterIP','10.43.0.20','<none>','8080/SCTP','24h','<none>']");
}

TEST(printers_endpoints)
{
    CHECK_COLUMNS("", "Endpoints", "Name:string:name|Endpoints:string|Age:string");
    CHECK_ROW("", "Endpoints",
              "{'metadata':{'name':'none','creationTimestamp':'2026-11-24T12:00:00Z'}}",
              "['none','<none>','24h']");
    CHECK_ROW("", "Endpoints",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'subsets':[{'addresses':[{'ip':'10.42.0.5'},{'ip':'10.42.0.6'}],'ports':[{"
              "'port':8080,'protocol':'TCP'}]}]}",
              "['web','10.42.0.5:8080,10.42.0.6:8080','24h']");
    /* Five addresses on two ports are ten endpoints: three shown, seven more. */
    CHECK_ROW("", "Endpoints",
              "{'metadata':{'name':'big','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'subsets':[{'addresses':[{'ip':'10.42.0.1'},{'ip':'10.42.0.2'},{"
              "'ip':'10.42.0.3'},{'ip':'10.42.0.4'},{'ip':'10.42.0.5'}],'ports':[{'port':80},"
              "{'port':443}]}]}",
              "['big','10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 7 more...','24h']");
    CHECK_ROW("", "Endpoints",
              "{'metadata':{'name':'three','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'subsets':[{'addresses':[{'ip':'10.42.0.1'}],'ports':[{'port':80}]},{"
              "'addresses':[{'ip':'fd00::7'},{'ip':'10.42.0.3'}]}]}",
              "['three','10.42.0.1:80,fd00::7,10.42.0.3','24h']");
    CHECK_ROW("", "Endpoints",
              "{'metadata':{'name':'v6','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'subsets':[{'addresses':[{'ip':'fd00::7'}],'ports':[{'port':80}]},{"
              "'notReadyAddresses':[{'ip':'10.42.0.9'}],'ports':[{'port':80}]}]}",
              "['v6','[fd00::7]:80','24h']");
}

/* ---- ConfigMap, Secret, ServiceAccount, Namespace ---- */

TEST(printers_config_kinds)
{
    CHECK_COLUMNS("", "ConfigMap", "Name:string:name|Data:string|Age:string");
    CHECK_ROW("", "ConfigMap",
              "{'metadata':{'name':'cfg','creationTimestamp':'2026-11-24T12:00:00Z'},'data':{"
              "'a':'1','b':'2'},'binaryData':{'c':'AA=='}}",
              "['cfg',3,'24h']");
    CHECK_ROW("", "ConfigMap",
              "{'metadata':{'name':'empty','creationTimestamp':'2026-11-24T12:00:00Z'}}",
              "['empty',0,'24h']");
    CHECK_COLUMNS("", "Secret", "Name:string:name|Type:string|Data:string|Age:string");
    CHECK_ROW("", "Secret",
              "{'metadata':{'name':'tls','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'type':'kubernetes.io/tls','data':{'tls.crt':'AA==','tls.key':'AA=='}}",
              "['tls','kubernetes.io/tls',2,'24h']");
    CHECK_COLUMNS("", "ServiceAccount", "Name:string:name|Secrets:string|Age:string");
    CHECK_ROW("", "ServiceAccount",
              "{'metadata':{'name':'default','creationTimestamp':'2026-11-24T12:00:00Z'}}",
              "['default',0,'24h']");
    CHECK_ROW("", "ServiceAccount",
              "{'metadata':{'name':'ci','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'secrets':[{'name':'ci-token'}]}",
              "['ci',1,'24h']");
    CHECK_COLUMNS("", "Namespace", "Name:string:name|Status:string|Age:string");
    CHECK_ROW("", "Namespace",
              "{'metadata':{'name':'kube-system','creationTimestamp':'2024-11-25T12:00:00Z'},"
              "'status':{'phase':'Active'}}",
              "['kube-system','Active','2y']");
}

/* ---- Event ---- */

TEST(printers_event)
{
    static const char cols[] =
        "Last Seen:string|Type:string|Reason:string|Object:string|Subobject:string*|"
        "Source:string*|Message:string|First Seen:string*|Count:string*|"
        "Name:string:name*";
    CHECK_COLUMNS("", "Event", cols);
    CHECK_COLUMNS("events.k8s.io", "Event", cols);
    CHECK_ROW("", "Event",
              "{'metadata':{'name':'web-0.17a','namespace':'default'},'involvedObject':{"
              "'kind':'Pod','name':'web-0','fieldPath':'spec.containers{web}'},"
              "'reason':'Pulled','message':'  Started container web\\n','type':'Normal',"
              "'source':{'component':'kubelet','host':'edge1'},"
              "'firstTimestamp':'2026-11-25T10:00:00Z',"
              "'lastTimestamp':'2026-11-25T11:58:00Z','count':4}",
              "['2m','Normal','Pulled','pod/web-0','spec.containers{web}','kubelet, edge1',"
              "'Started container web','120m',4,'web-0.17a']");
    /* New-style: the series decides Last Seen and Count; eventTime is sub-second. */
    CHECK_ROW("", "Event",
              "{'metadata':{'name':'ev2'},'involvedObject':{'kind':'Node'},"
              "'reason':'FailedScheduling','message':'x','type':'Warning',"
              "'reportingComponent':'default-scheduler',"
              "'eventTime':'2026-11-25T11:59:59.500000Z','series':{'count':7,"
              "'lastObservedTime':'2026-11-25T11:59:00.000000Z'}}",
              "['60s','Warning','FailedScheduling','node','','default-scheduler','x','0s',7,"
              "'ev2']");
    CHECK_ROW("", "Event", "{'metadata':{'name':'ev3'},'reportingInstance':'edge1'}",
              "['<unknown>','','','','',', edge1','','<unknown>',1,'ev3']");
    CHECK_ROW("events.k8s.io", "Event",
              "{'metadata':{'name':'e4'},'regarding':{'kind':'Deployment','name':'web'},"
              "'reason':'ScalingReplicaSet','note':'Scaled up replica set web-5d9 to 3',"
              "'type':'Normal','reportingController':'deployment-controller',"
              "'reportingInstance':'edgek','eventTime':'2026-11-25T11:50:00.000000Z'}",
              "['10m','Normal','ScalingReplicaSet','deployment/web','',"
              "'deployment-controller, edgek','Scaled up replica set web-5d9 to 3','10m',1,"
              "'e4']");
    CHECK_ROW("events.k8s.io", "Event",
              "{'metadata':{'name':'e5'},'regarding':{'kind':'Pod','name':'p',"
              "'fieldPath':'spec.containers{a}'},'reason':'BackOff','note':'Back-off',"
              "'type':'Warning','deprecatedSource':{'component':'kubelet','host':'edge1'},"
              "'deprecatedFirstTimestamp':'2026-11-25T11:00:00Z',"
              "'deprecatedLastTimestamp':'2026-11-25T11:59:00Z','deprecatedCount':12}",
              "['60s','Warning','BackOff','pod/p','spec.containers{a}','kubelet, edge1',"
              "'Back-off','60m',12,'e5']");
}

/* ---- PersistentVolume, PersistentVolumeClaim, ResourceQuota ---- */

TEST(printers_storage_core)
{
    CHECK_COLUMNS("", "PersistentVolume",
                  "Name:string:name|Capacity:string|Access Modes:string|Reclaim Policy:string|"
                  "Status:string|Claim:string|StorageClass:string|VolumeAttributesClass:string|"
                  "Reason:string|Age:string|VolumeMode:string*");
    CHECK_ROW("", "PersistentVolume",
              "{'metadata':{'name':'pvc-1234','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'capacity':{'storage':'1Gi'},'accessModes':['ReadWriteMany',"
              "'ReadWriteOnce','ReadWriteOnce'],'persistentVolumeReclaimPolicy':'Delete',"
              "'storageClassName':'local-path','claimRef':{'namespace':'default',"
              "'name':'data'},'volumeMode':'Filesystem'},'status':{'phase':'Bound'}}",
              "['pvc-1234','1Gi','RWO,RWX','Delete','Bound','default/data','local-path',"
              "'<unset>','','24h','Filesystem']");
    CHECK_ROW("", "PersistentVolume",
              "{'metadata':{'name':'old','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'deletionTimestamp':'2026-11-25T11:00:00Z','annotations':{"
              "'volume.beta.kubernetes.io/storage-class':'slow'}},'spec':{'accessModes':["
              "'ReadWriteOncePod','ReadOnlyMany'],'persistentVolumeReclaimPolicy':'Retain',"
              "'storageClassName':'fast','volumeAttributesClassName':'gold'},'status':{"
              "'phase':'Released','reason':'claim deleted'}}",
              "['old','0','ROX,RWOP','Retain','Terminating','','slow','gold','claim deleted',"
              "'24h','<unset>']");
    CHECK_COLUMNS("", "PersistentVolumeClaim",
                  "Name:string:name|Status:string|Volume:string|Capacity:string|"
                  "Access Modes:string|StorageClass:string|VolumeAttributesClass:string|"
                  "Age:string|VolumeMode:string*");
    CHECK_ROW("", "PersistentVolumeClaim",
              "{'metadata':{'name':'data','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'volumeName':'pvc-1234','storageClassName':'local-path','resources':{"
              "'requests':{'storage':'500Mi'}},'volumeMode':'Filesystem'},'status':{"
              "'phase':'Bound','capacity':{'storage':'1Gi'},'accessModes':["
              "'ReadWriteOnce']}}",
              "['data','Bound','pvc-1234','1Gi','RWO','local-path','<unset>','24h',"
              "'Filesystem']");
    CHECK_ROW("", "PersistentVolumeClaim",
              "{'metadata':{'name':'wait','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'annotations':{'volume.beta.kubernetes.io/storage-class':'slow'}},'spec':{"
              "'volumeAttributesClassName':'gold','resources':{'requests':{"
              "'storage':'1Gi'}}},'status':{'phase':'Pending','capacity':{'storage':'1Gi'}}}",
              "['wait','Pending','','','','slow','gold','24h','<unset>']");
    CHECK_COLUMNS("", "ResourceQuota", "Name:string:name|Age:string|Request:string|Limit:string");
    CHECK_ROW("", "ResourceQuota",
              "{'metadata':{'name':'compute','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'status':{'hard':{'pods':'10','requests.cpu':'1','limits.memory':'2Gi',"
              "'limits.cpu':'2','requests.memory':'1Gi'},'used':{'pods':'3',"
              "'requests.cpu':'250m','limits.cpu':'500m','requests.memory':'256Mi'}}}",
              "['compute','24h','pods: 3/10, requests.cpu: 250m/1, "
              "requests.memory: 256Mi/1Gi','limits.cpu: 500m/2, limits.memory: 0/2Gi']");
    CHECK_ROW("", "ResourceQuota",
              "{'metadata':{'name':'new','creationTimestamp':'2026-11-24T12:00:00Z'}}",
              "['new','24h','','']");
}

/* ---- apps ---- */

TEST(printers_deployment)
{
    CHECK_COLUMNS("apps", "Deployment",
                  "Name:string:name|Ready:string|Up-to-date:string|Available:string|Age:string|"
                  "Containers:string*|Images:string*|Selector:string*");
    CHECK_ROW("apps", "Deployment",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'replicas':3,'selector':{'matchLabels':{'app':'web'}},'template':{'spec':{"
              "'containers':[{'name':'web','image':'nginx:1.27'},{'name':'log',"
              "'image':'busybox'}]}}},'status':{'replicas':3,'readyReplicas':2,"
              "'updatedReplicas':3,'availableReplicas':2}}",
              "['web','2/3',3,2,'24h','web,log','nginx:1.27,busybox','app=web']");
    /* An invalid selector prints "<invalid>"; a missing one prints nothing at all. */
    CHECK_ROW("apps", "Deployment",
              "{'metadata':{'name':'bad','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'replicas':1,'selector':{'matchExpressions':[{'key':'app',"
              "'operator':'Foo'}]}}}",
              "['bad','0/1',0,0,'24h','','','<invalid>']");
    CHECK_ROW("apps", "Deployment",
              "{'metadata':{'name':'bare','creationTimestamp':'2026-11-24T12:00:00Z'}}",
              "['bare','0/0',0,0,'24h','','','']");
}

TEST(printers_replicaset_and_selectors)
{
    CHECK_COLUMNS("apps", "ReplicaSet",
                  "Name:string:name|Desired:integer|Current:integer|Ready:integer|Age:string|"
                  "Containers:string*|Images:string*|Selector:string*");
    CHECK_ROW("apps", "ReplicaSet",
              "{'metadata':{'name':'web-5d9','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'replicas':2,'selector':{'matchLabels':{'app':'web',"
              "'pod-template-hash':'5d9'},'matchExpressions':[{'key':'env','operator':'In',"
              "'values':['staging','prod']},{'key':'legacy','operator':'DoesNotExist'},{"
              "'key':'tier','operator':'NotIn','values':['db']},{'key':'canary',"
              "'operator':'Exists'}]},'template':{'spec':{'containers':[{'name':'web',"
              "'image':'nginx'}]}}},'status':{'replicas':2,'readyReplicas':1}}",
              "['web-5d9',2,2,1,'24h','web','nginx','app=web,canary,env in (prod,staging),"
              "!legacy,pod-template-hash=5d9,tier notin (db)']");
    CHECK_ROW("apps", "ReplicaSet",
              "{'metadata':{'name':'e','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'selector':{}}}",
              "['e',0,0,0,'24h','','','<none>']");
    /* In needs values, Exists takes none, keys must be valid label keys. */
    CHECK_ROW("apps", "ReplicaSet",
              "{'metadata':{'name':'e','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'selector':{'matchExpressions':[{'key':'a','operator':'In','values':[]}]}}}",
              "['e',0,0,0,'24h','','','<error>']");
    CHECK_ROW("apps", "ReplicaSet",
              "{'metadata':{'name':'e','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'selector':{'matchExpressions':[{'key':'a','operator':'Exists','values':["
              "'x']}]}}}",
              "['e',0,0,0,'24h','','','<error>']");
    CHECK_ROW("apps", "ReplicaSet",
              "{'metadata':{'name':'e','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'selector':{'matchLabels':{'bad key':'x'}}}}",
              "['e',0,0,0,'24h','','','<error>']");
    CHECK_ROW("apps", "ReplicaSet",
              "{'metadata':{'name':'e','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'selector':{'matchLabels':{'example.com/app':'a.b-c'}}}}",
              "['e',0,0,0,'24h','','','example.com/app=a.b-c']");
}

TEST(printers_daemonset_statefulset_revision)
{
    CHECK_COLUMNS("apps", "DaemonSet",
                  "Name:string:name|Desired:integer|Current:integer|Ready:integer|"
                  "Up-to-date:integer|Available:integer|Node Selector:string|Age:string|"
                  "Containers:string*|Images:string*|Selector:string*");
    CHECK_ROW("apps", "DaemonSet",
              "{'metadata':{'name':'svclb','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'selector':{'matchLabels':{'app':'svclb'}},'template':{'spec':{"
              "'nodeSelector':{'kubernetes.io/os':'linux'},'containers':[{'name':'lb',"
              "'image':'rancher/klipper-lb'}]}}},'status':{'desiredNumberScheduled':3,"
              "'currentNumberScheduled':3,'numberReady':2,'updatedNumberScheduled':3,"
              "'numberAvailable':2}}",
              "['svclb',3,3,2,3,2,'kubernetes.io/os=linux','24h','lb','rancher/klipper-lb',"
              "'app=svclb']");
    CHECK_COLUMNS("apps", "StatefulSet",
                  "Name:string:name|Ready:string|Age:string|Containers:string*|Images:string*");
    CHECK_ROW("apps", "StatefulSet",
              "{'metadata':{'name':'db','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'replicas':2,'template':{'spec':{'containers':[{'name':'pg',"
              "'image':'postgres:16'}]}}},'status':{'readyReplicas':1}}",
              "['db','1/2','24h','pg','postgres:16']");
    CHECK_COLUMNS("apps", "ControllerRevision",
                  "Name:string:name|Controller:string|Revision:string|Age:string");
    CHECK_ROW("apps", "ControllerRevision",
              "{'metadata':{'name':'db-7f8','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'ownerReferences':[{'apiVersion':'v1','kind':'Pod','name':'x'},{"
              "'apiVersion':'apps/v1','kind':'StatefulSet','name':'Db-Main',"
              "'controller':true}]},'revision':3}",
              "['db-7f8','statefulset.apps/Db-Main',3,'24h']");
    CHECK_ROW("apps", "ControllerRevision",
              "{'metadata':{'name':'r','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'ownerReferences':[{'apiVersion':'v1','kind':'ReplicationController',"
              "'name':'rc','controller':true}]},'revision':1}",
              "['r','replicationcontroller/rc',1,'24h']");
    CHECK_ROW("apps", "ControllerRevision",
              "{'metadata':{'name':'orphan','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'revision':2}",
              "['orphan','<none>',2,'24h']");
}

/* ---- batch ---- */

TEST(printers_job)
{
    CHECK_COLUMNS("batch", "Job",
                  "Name:string:name|Status:string|Completions:string|Duration:string|Age:string|"
                  "Containers:string*|Images:string*|Selector:string*");
    CHECK_ROW("batch", "Job",
              "{'metadata':{'name':'pi','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'completions':1,'parallelism':1,'selector':{'matchLabels':{"
              "'batch.kubernetes.io/controller-uid':'abc'}},'template':{'spec':{"
              "'containers':[{'name':'pi','image':'perl'}]}}},'status':{'succeeded':1,"
              "'startTime':'2026-11-25T11:00:00Z','completionTime':'2026-11-25T11:00:42Z',"
              "'conditions':[{'type':'SuccessCriteriaMet','status':'True'},{"
              "'type':'Complete','status':'True'}]}}",
              "['pi','Complete','1/1','42s','24h','pi','perl',"
              "'batch.kubernetes.io/controller-uid=abc']");
    CHECK_ROW("batch", "Job",
              "{'metadata':{'name':'work','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'parallelism':3},'status':{'succeeded':1,"
              "'startTime':'2026-11-25T11:57:30Z','conditions':[]}}",
              "['work','Running','1/1 of 3','2m30s','24h','','','<none>']");
    CHECK_ROW("batch", "Job",
              "{'metadata':{'name':'f','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'completions':5},'status':{'succeeded':2,'failed':6,"
              "'startTime':'2026-11-25T09:00:00Z','completionTime':'2026-11-25T10:12:00Z',"
              "'conditions':[{'type':'Complete','status':'False'},{'type':'Failed',"
              "'status':'True'}]}}",
              "['f','Failed','2/5','72m','24h','','','<none>']");
    CHECK_ROW("batch", "Job",
              "{'metadata':{'name':'s','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'completions':1,'suspend':true},'status':{'conditions':[{'type':'Suspended',"
              "'status':'True'}]}}",
              "['s','Suspended','0/1','','24h','','','<none>']");
    CHECK_ROW("batch", "Job",
              "{'metadata':{'name':'d','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'deletionTimestamp':'2026-11-25T11:59:00Z'},'spec':{'completions':1},"
              "'status':{'conditions':[{'type':'Suspended','status':'True'}]}}",
              "['d','Terminating','0/1','','24h','','','<none>']");
    CHECK_ROW("batch", "Job",
              "{'metadata':{'name':'ft','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'completions':1},'status':{'conditions':[{'type':'FailureTarget',"
              "'status':'True'}]}}",
              "['ft','FailureTarget','0/1','','24h','','','<none>']");
}

TEST(printers_cronjob)
{
    CHECK_COLUMNS("batch", "CronJob",
                  "Name:string:name|Schedule:string|Timezone:string|Suspend:boolean|"
                  "Active:integer|Last Schedule:string|Age:string|Containers:string*|"
                  "Images:string*|Selector:string*");
    CHECK_ROW("batch", "CronJob",
              "{'metadata':{'name':'backup','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'schedule':'*/5 * * * *','timeZone':'Etc/UTC','suspend':false,"
              "'jobTemplate':{'spec':{'template':{'spec':{'containers':[{'name':'c',"
              "'image':'busybox'}]}}}}},'status':{'active':[{'name':'backup-1'}],"
              "'lastScheduleTime':'2026-11-25T11:55:00Z'}}",
              "['backup','*/5 * * * *','Etc/UTC','False',1,'5m','24h','c','busybox','<none>']");
    CHECK_ROW("batch", "CronJob",
              "{'metadata':{'name':'nightly','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'schedule':'@daily','suspend':true}}",
              "['nightly','@daily','<none>','True',0,'<none>','24h','','','<none>']");
    CHECK_ROW("batch", "CronJob",
              "{'metadata':{'name':'raw','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'schedule':'0 * * * *'}}",
              "['raw','0 * * * *','<none>','<unset>',0,'<none>','24h','','','<none>']");
}

/* ---- autoscaling, policy ---- */

TEST(printers_hpa)
{
    CHECK_COLUMNS("autoscaling", "HorizontalPodAutoscaler",
                  "Name:string:name|Reference:string|Targets:string|MinPods:string|"
                  "MaxPods:string|Replicas:string|Age:string");
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'minReplicas':1,'maxReplicas':5,'metrics':[{'type':'Resource','resource':{"
              "'name':'cpu','target':{'type':'Utilization','averageUtilization':50}}}]},"
              "'status':{'currentReplicas':2,'currentMetrics':[{'type':'Resource',"
              "'resource':{'name':'cpu','current':{'averageUtilization':20,"
              "'averageValue':'100m'}}}]}}",
              "['web','Deployment/web','cpu: 20%/50%','1',5,2,'24h']");
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'minReplicas':2,'maxReplicas':4,'metrics':[{'type':'Resource','resource':{"
              "'name':'cpu','target':{'type':'Utilization','averageUtilization':50}}}]},"
              "'status':{'currentReplicas':0}}",
              "['web','Deployment/web','cpu: <unknown>/50%','2',4,0,'24h']");
    /* Only two metrics are shown. */
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'maxReplicas':10,'metrics':[{'type':'Resource','resource':{'name':'memory',"
              "'target':{'type':'AverageValue','averageValue':'500Mi'}}},{'type':'Pods',"
              "'pods':{'metric':{'name':'qps'},'target':{'type':'AverageValue',"
              "'averageValue':'1k'}}},{'type':'Resource','resource':{'name':'cpu','target':{"
              "'type':'Utilization','averageUtilization':50}}}]},'status':{"
              "'currentReplicas':3,'currentMetrics':[{'type':'Resource','resource':{"
              "'name':'memory','current':{'averageValue':'300Mi'}}}]}}",
              "['web','Deployment/web','memory: 300Mi/500Mi, <unknown>/1k + 1 more...',"
              "'<unset>',10,3,'24h']");
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'maxReplicas':3,'metrics':[{'type':'External','external':{'metric':{"
              "'name':'queue'},'target':{'type':'AverageValue','averageValue':'30'}}},{"
              "'type':'Object','object':{'metric':{'name':'rps'},'target':{'type':'Value',"
              "'value':'10'}}}]},'status':{'currentMetrics':[{'type':'External','external':{"
              "'current':{'averageValue':'12'}}},{'type':'Object','object':{'current':{"
              "}}}]}}",
              "['web','Deployment/web','12/30 (avg), <nil>/10','<unset>',3,0,'24h']");
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'maxReplicas':3,'metrics':[{'type':'ContainerResource','containerResource':{"
              "'name':'cpu','container':'app','target':{'type':'Utilization'}}},{"
              "'type':'Foo'}]},'status':{}}",
              "['web','Deployment/web','cpu: <unknown>/<auto>, <unknown type>','<unset>',3,0,"
              "'24h']");
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'maxReplicas':3,'metrics':[]},'status':{}}",
              "['web','Deployment/web','<none>','<unset>',3,0,'24h']");
    /* An autoscaling/v1 object keeps its CPU target in its own fields. */
    CHECK_ROW("autoscaling", "HorizontalPodAutoscaler",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
              "'minReplicas':1,'maxReplicas':3,'targetCPUUtilizationPercentage':80},"
              "'status':{'currentReplicas':1,'currentCPUUtilizationPercentage':35}}",
              "['web','Deployment/web','cpu: 35%/80%','1',3,1,'24h']");
}

TEST(printers_pdb)
{
    CHECK_COLUMNS("policy", "PodDisruptionBudget",
                  "Name:string:name|Min Available:string|Max Unavailable:string|"
                  "Allowed Disruptions:integer|Age:string");
    CHECK_ROW("policy", "PodDisruptionBudget",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'minAvailable':1},'status':{'disruptionsAllowed':1}}",
              "['web','1','N/A',1,'24h']");
    CHECK_ROW("policy", "PodDisruptionBudget",
              "{'metadata':{'name':'db','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'maxUnavailable':'25%'}}",
              "['db','N/A','25%',0,'24h']");
}

/* ---- networking, discovery, coordination ---- */

TEST(printers_networking)
{
    CHECK_COLUMNS("networking.k8s.io", "Ingress",
                  "Name:string:name|Class:string|Hosts:string|Address:string|Ports:string|"
                  "Age:string");
    CHECK_ROW("networking.k8s.io", "Ingress",
              "{'metadata':{'name':'web','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'ingressClassName':'traefik','rules':[{'host':'a.example.com'},{'http':{}},{"
              "'host':'b.example.com'},{'host':'c.example.com'},{'host':'d.example.com'}],"
              "'tls':[{'hosts':['a.example.com']}]},'status':{'loadBalancer':{'ingress':[{"
              "'ip':'192.168.1.11'},{'ip':'192.168.1.10'}]}}}",
              "['web','traefik','a.example.com,b.example.com,c.example.com + 2 more...',"
              "'192.168.1.10,192.168.1.11','80, 443','24h']");
    CHECK_ROW("networking.k8s.io", "Ingress",
              "{'metadata':{'name':'any','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'rules':[{}]}}",
              "['any','<none>','*','','80','24h']");
    CHECK_COLUMNS("networking.k8s.io", "IngressClass",
                  "Name:string:name|Controller:string|Parameters:string|Age:string");
    CHECK_ROW("networking.k8s.io", "IngressClass",
              "{'metadata':{'name':'traefik','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'controller':'traefik.io/ingress-controller','parameters':{"
              "'apiGroup':'k8s.example.com','kind':'IngressParameters','name':'p'}}}",
              "['traefik','traefik.io/ingress-controller',"
              "'IngressParameters.k8s.example.com/p','24h']");
    CHECK_ROW("networking.k8s.io", "IngressClass",
              "{'metadata':{'name':'nginx','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'controller':'k8s.io/ingress-nginx'}}",
              "['nginx','k8s.io/ingress-nginx','<none>','24h']");
    CHECK_COLUMNS("networking.k8s.io", "NetworkPolicy",
                  "Name:string:name|Pod-Selector:string|Age:string");
    CHECK_ROW("networking.k8s.io", "NetworkPolicy",
              "{'metadata':{'name':'deny-all','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'podSelector':{},'policyTypes':['Ingress']}}",
              "['deny-all','<none>','24h']");
    CHECK_ROW("networking.k8s.io", "NetworkPolicy",
              "{'metadata':{'name':'db','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'podSelector':{'matchLabels':{'app':'db'}}}}",
              "['db','app=db','24h']");
    CHECK_COLUMNS("discovery.k8s.io", "EndpointSlice",
                  "Name:string:name|AddressType:string|Ports:string|Endpoints:string|Age:string");
    CHECK_ROW("discovery.k8s.io", "EndpointSlice",
              "{'metadata':{'name':'web-abc','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'addressType':'IPv4','ports':[{'port':80,'name':'http'},{'name':'metrics'},{"
              "}],'endpoints':[{'addresses':['10.42.0.5']},{'addresses':['10.42.0.6',"
              "'10.42.0.7','10.42.0.8']}]}",
              "['web-abc','IPv4','80,metrics,*','10.42.0.5,10.42.0.6,10.42.0.7 + 1 more...',"
              "'24h']");
    CHECK_ROW("discovery.k8s.io", "EndpointSlice",
              "{'metadata':{'name':'empty','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'addressType':'IPv6','ports':[],'endpoints':[]}",
              "['empty','IPv6','<unset>','<unset>','24h']");
    CHECK_COLUMNS("coordination.k8s.io", "Lease", "Name:string:name|Holder:string|Age:string");
    CHECK_ROW("coordination.k8s.io", "Lease",
              "{'metadata':{'name':'edge1','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'holderIdentity':'edge1','leaseDurationSeconds':40}}",
              "['edge1','edge1','24h']");
    CHECK_ROW("coordination.k8s.io", "Lease",
              "{'metadata':{'name':'free','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{}}",
              "['free','','24h']");
}

/* ---- rbac, storage, scheduling, certificates, admission, node ---- */

TEST(printers_rbac)
{
    static const char cols[] =
        "Name:string:name|Role:string|Age:string|Users:string*|Groups:string*|"
        "ServiceAccounts:string*";
    CHECK_COLUMNS("rbac.authorization.k8s.io", "RoleBinding", cols);
    CHECK_COLUMNS("rbac.authorization.k8s.io", "ClusterRoleBinding", cols);
    CHECK_ROW("rbac.authorization.k8s.io", "RoleBinding",
              "{'metadata':{'name':'ro','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'ClusterRole',"
              "'name':'view'},'subjects':[{'kind':'User','name':'alice'},{'kind':'Group',"
              "'name':'devs'},{'kind':'ServiceAccount','namespace':'ci','name':'runner'},{"
              "'kind':'User','name':'bob'}]}",
              "['ro','ClusterRole/view','24h','alice, bob','devs','ci/runner']");
    CHECK_ROW("rbac.authorization.k8s.io", "ClusterRoleBinding",
              "{'metadata':{'name':'admin','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'roleRef':{'kind':'ClusterRole','name':'cluster-admin'}}",
              "['admin','ClusterRole/cluster-admin','24h','','','']");
    /* Roles have no printer upstream: the default one shows the creation time. */
    CHECK_COLUMNS("rbac.authorization.k8s.io", "Role", "Name:string:name|Created At:date");
    CHECK_ROW("rbac.authorization.k8s.io", "ClusterRole",
              "{'metadata':{'name':'view','creationTimestamp':'2026-11-25T13:55:00.250+02:00'}}",
              "['view','2026-11-25T11:55:00Z']");
}

TEST(printers_storage_and_scheduling)
{
    CHECK_COLUMNS("storage.k8s.io", "StorageClass",
                  "Name:string:name|Provisioner:string|ReclaimPolicy:string|"
                  "VolumeBindingMode:string|AllowVolumeExpansion:string|Age:string");
    CHECK_ROW("storage.k8s.io", "StorageClass",
              "{'metadata':{'name':'local-path','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'annotations':{'storageclass.kubernetes.io/is-default-class':'true'}},"
              "'provisioner':'rancher.io/local-path','reclaimPolicy':'Delete',"
              "'volumeBindingMode':'WaitForFirstConsumer'}",
              "['local-path (default)','rancher.io/local-path','Delete',"
              "'WaitForFirstConsumer',false,'24h']");
    CHECK_ROW("storage.k8s.io", "StorageClass",
              "{'metadata':{'name':'nfs','creationTimestamp':'2026-11-24T12:00:00Z',"
              "'annotations':{'storageclass.beta.kubernetes.io/is-default-class':'false'}},"
              "'provisioner':'edgek.io/nfs','allowVolumeExpansion':true}",
              "['nfs','edgek.io/nfs','Delete','Immediate',true,'24h']");
    CHECK_ROW("storage.k8s.io", "StorageClass",
              "{'metadata':{'name':'old','annotations':{"
              "'storageclass.beta.kubernetes.io/is-default-class':'true'}},'provisioner':'x',"
              "'reclaimPolicy':'Retain'}",
              "['old (default)','x','Retain','Immediate',false,'<unknown>']");
    CHECK_COLUMNS("scheduling.k8s.io", "PriorityClass",
                  "Name:string:name|Value:integer|Global-Default:boolean|Age:string|"
                  "PreemptionPolicy:string");
    CHECK_ROW("scheduling.k8s.io", "PriorityClass",
              "{'metadata':{'name':'system-node-critical',"
              "'creationTimestamp':'2026-11-24T12:00:00Z'},'value':2000001000,"
              "'preemptionPolicy':'PreemptLowerPriority'}",
              "['system-node-critical',2000001000,false,'24h','PreemptLowerPriority']");
    CHECK_ROW("scheduling.k8s.io", "PriorityClass",
              "{'metadata':{'name':'batch','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'value':-10,'globalDefault':true}",
              "['batch',-10,true,'24h','']");
    CHECK_COLUMNS("storage.k8s.io", "CSIDriver",
                  "Name:string:name|AttachRequired:boolean|PodInfoOnMount:boolean|"
                  "StorageCapacity:boolean|TokenRequests:string|RequiresRepublish:boolean|"
                  "Modes:string|Age:string");
    CHECK_ROW("storage.k8s.io", "CSIDriver",
              "{'metadata':{'name':'nfs.csi.k8s.io',"
              "'creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{'attachRequired':false,"
              "'volumeLifecycleModes':['Persistent','Ephemeral'],'tokenRequests':[{"
              "'audience':'a'},{'audience':'b'}]}}",
              "['nfs.csi.k8s.io',false,false,false,'a,b',false,'Persistent,Ephemeral','24h']");
    CHECK_ROW("storage.k8s.io", "CSIDriver",
              "{'metadata':{'name':'d','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{}}",
              "['d',true,false,false,'<unset>',false,'<none>','24h']");
    CHECK_COLUMNS("storage.k8s.io", "VolumeAttachment",
                  "Name:string:name|Attacher:string:name|PV:string|Node:string|Attached:boolean|"
                  "Age:string");
    CHECK_ROW("storage.k8s.io", "VolumeAttachment",
              "{'metadata':{'name':'csi-1','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'attacher':'ebs','source':{'persistentVolumeName':'pv1'},"
              "'nodeName':'edge1'},'status':{'attached':true}}",
              "['csi-1','ebs','pv1','edge1',true,'24h']");
    CHECK_ROW("storage.k8s.io", "CSINode",
              "{'metadata':{'name':'edge1','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'drivers':[{'name':'a'},{'name':'b'}]}}",
              "['edge1',2,'24h']");
    CHECK_ROW("node.k8s.io", "RuntimeClass",
              "{'metadata':{'name':'gvisor','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'handler':'runsc'}",
              "['gvisor','runsc','24h']");
}

TEST(printers_csr_and_webhooks)
{
    CHECK_COLUMNS("certificates.k8s.io", "CertificateSigningRequest",
                  "Name:string:name|Age:string|SignerName:string|Requestor:string|"
                  "RequestedDuration:string|Condition:string");
    CHECK_ROW("certificates.k8s.io", "CertificateSigningRequest",
              "{'metadata':{'name':'alice','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'signerName':'kubernetes.io/kube-apiserver-client','username':'alice',"
              "'expirationSeconds':86400},'status':{'conditions':[{'type':'Approved',"
              "'status':'True'}],'certificate':'LS0tLS1CRUdJTg=='}}",
              "['alice','24h','kubernetes.io/kube-apiserver-client','alice','24h','Approved,"
              "Issued']");
    CHECK_ROW("certificates.k8s.io", "CertificateSigningRequest",
              "{'metadata':{'name':'node-csr','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'spec':{'username':'system:node:edge1'}}",
              "['node-csr','24h','<none>','system:node:edge1','<none>','Pending']");
    CHECK_ROW("certificates.k8s.io", "CertificateSigningRequest",
              "{'metadata':{'name':'bad','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'username':'u','expirationSeconds':600},'status':{'conditions':[{"
              "'type':'Approved'},{'type':'Failed'},{'type':'Denied'}]}}",
              "['bad','24h','<none>','u','10m','Denied,Failed']");
    CHECK_COLUMNS("admissionregistration.k8s.io", "MutatingWebhookConfiguration",
                  "Name:string:name|Webhooks:integer|Age:string");
    CHECK_ROW("admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
              "{'metadata':{'name':'policy','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'webhooks':[{'name':'a.example.com'},{'name':'b.example.com'}]}",
              "['policy',2,'24h']");
}

/* ---- other core kinds ---- */

TEST(printers_other_core_kinds)
{
    CHECK_COLUMNS("", "ReplicationController",
                  "Name:string:name|Desired:integer|Current:integer|Ready:integer|Age:string|"
                  "Containers:string*|Images:string*|Selector:string*");
    CHECK_ROW("", "ReplicationController",
              "{'metadata':{'name':'rc','creationTimestamp':'2026-11-24T12:00:00Z'},'spec':{"
              "'replicas':2,'selector':{'app':'rc'},'template':{'spec':{'containers':[{"
              "'name':'a','image':'busybox'}]}}},'status':{'replicas':2,'readyReplicas':2}}",
              "['rc',2,2,2,'24h','a','busybox','app=rc']");
    CHECK_COLUMNS("", "PodTemplate",
                  "Name:string:name|Containers:string|Images:string|Pod Labels:string");
    CHECK_ROW("", "PodTemplate",
              "{'metadata':{'name':'t','creationTimestamp':'2026-11-24T12:00:00Z'},"
              "'template':{'metadata':{'labels':{'b':'2','a':'1'}},'spec':{'containers':[{"
              "'name':'a','image':'x'},{'name':'b','image':'y'}]}}}",
              "['t','a,b','x,y','a=1,b=2']");
    CHECK_ROW("", "ComponentStatus",
              "{'metadata':{'name':'etcd-0'},'conditions':[{'type':'Healthy','status':'True',"
              "'message':'ok'}]}",
              "['etcd-0','Healthy','ok','']");
    CHECK_ROW("", "ComponentStatus", "{'metadata':{'name':'scheduler'}}",
              "['scheduler','Unknown','','']");
}

/* ---- the default printer ---- */

TEST(printers_default_for_kinds_without_one)
{
    static const char *const kinds[][2] = {
        { "rbac.authorization.k8s.io", "Role" },
        { "rbac.authorization.k8s.io", "ClusterRole" },
        { "", "LimitRange" },
        { "apiextensions.k8s.io", "CustomResourceDefinition" },
        { "example.com", "Widget" },
        { "apps", "Pod" }, /* a kind is found only in its own group */
        { NULL, NULL },
    };
    const ek_printer_t *def = ek_printer_for("example.com", "Widget");
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds); i++) {
        ASSERT_TRUE(ek_printer_for(kinds[i][0], kinds[i][1]) == def);
    }
    ASSERT_TRUE(ek_printer_for("", "Pod") != def);
    ASSERT_TRUE(ek_printer_for(NULL, "Pod") == ek_printer_for("", "Pod"));
    CHECK_COLUMNS("", "LimitRange", "Name:string:name|Created At:date");
    CHECK_ROW("", "LimitRange",
              "{'metadata':{'name':'limits','creationTimestamp':'2026-11-25T11:55:00Z'}}",
              "['limits','2026-11-25T11:55:00Z']");
    /* Go's zero time for an object that has none. */
    CHECK_ROW("apiextensions.k8s.io", "CustomResourceDefinition",
              "{'metadata':{'name':'widgets.example.com'}}",
              "['widgets.example.com','0001-01-01T00:00:00Z']");
    CHECK_ROW("example.com", "Widget",
              "{'metadata':{'name':'w','creationTimestamp':'0001-01-01T00:00:00Z'}}",
              "['w','0001-01-01T00:00:00Z']");
}

/* Every printer gives one cell per column even for empty or ill-typed objects. */
TEST(printers_tolerate_odd_objects)
{
    static const char *const kinds[][2] = {
        { "", "Pod" },
        { "", "Node" },
        { "", "Namespace" },
        { "", "Service" },
        { "", "Endpoints" },
        { "", "ConfigMap" },
        { "", "Secret" },
        { "", "ServiceAccount" },
        { "", "Event" },
        { "", "PersistentVolume" },
        { "", "PersistentVolumeClaim" },
        { "", "ResourceQuota" },
        { "", "PodTemplate" },
        { "", "ReplicationController" },
        { "", "ComponentStatus" },
        { "events.k8s.io", "Event" },
        { "apps", "Deployment" },
        { "apps", "ReplicaSet" },
        { "apps", "DaemonSet" },
        { "apps", "StatefulSet" },
        { "apps", "ControllerRevision" },
        { "batch", "Job" },
        { "batch", "CronJob" },
        { "autoscaling", "HorizontalPodAutoscaler" },
        { "policy", "PodDisruptionBudget" },
        { "networking.k8s.io", "Ingress" },
        { "networking.k8s.io", "IngressClass" },
        { "networking.k8s.io", "NetworkPolicy" },
        { "discovery.k8s.io", "EndpointSlice" },
        { "coordination.k8s.io", "Lease" },
        { "rbac.authorization.k8s.io", "RoleBinding" },
        { "rbac.authorization.k8s.io", "ClusterRoleBinding" },
        { "storage.k8s.io", "StorageClass" },
        { "storage.k8s.io", "VolumeAttachment" },
        { "storage.k8s.io", "CSINode" },
        { "storage.k8s.io", "CSIDriver" },
        { "scheduling.k8s.io", "PriorityClass" },
        { "certificates.k8s.io", "CertificateSigningRequest" },
        { "admissionregistration.k8s.io", "MutatingWebhookConfiguration" },
        { "admissionregistration.k8s.io", "ValidatingWebhookConfiguration" },
        { "node.k8s.io", "RuntimeClass" },
        { "", "LimitRange" },
    };
    static const char *const odd[] = {
        "{}",
        "null",
        "[1,2]",
        "{'metadata':'x','spec':[],'status':7,'subsets':{},'data':'y',"
        "'involvedObject':5,'webhooks':'w','regarding':[],'series':'s','conditions':{"
        "}}",
        "{'metadata':{'name':5,'labels':[],'annotations':'a',"
        "'creationTimestamp':'yesterday','ownerReferences':{}},'spec':{'containers':{},"
        "'initContainers':'x','selector':{'matchLabels':[],'matchExpressions':{}},"
        "'ports':{},'rules':'r','metrics':[5,'m'],'template':[]},'status':{"
        "'containerStatuses':[1,null],'initContainerStatuses':{},'conditions':[null],"
        "'hard':[],'loadBalancer':{'ingress':{}},'currentMetrics':7}}",
    };
    const ek_printer_t *def = ek_printer_for("", "LimitRange");
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds); i++) {
        const ek_printer_t *p = ek_printer_for(kinds[i][0], kinds[i][1]);
        if (i < EK_ARRAY_SIZE(kinds) - 1 && p == def) {
            ek__test_fail(__FILE__, __LINE__, "%s/%s has no printer", kinds[i][0], kinds[i][1]);
        }
        ASSERT_CMP(p->n_columns, >=, 2);
        for (size_t j = 0; j < EK_ARRAY_SIZE(odd); j++) {
            ek_auto(json_t) obj = sq(odd[j]);
            free(row_json(__FILE__, __LINE__, kinds[i][0], kinds[i][1], obj));
        }
    }
}
