/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod-template-hash, computed as Kubernetes computes it (controller.ComputeHash): FNV-32a
 * over the template printed by go-spew with `%#v` (types shown, map keys sorted, methods off)
 * from the Go types of k8s.io/api 1.32, then the collision count as 8 little-endian bytes (only
 * the low 4 set), and the decimal value mapped through rand.SafeEncodeString's alphabet.
 *
 * go-spew prints every field of every struct, nil or not, so the Go type tree reachable from a
 * template is described below as tables: each struct's fields in declaration order with their
 * JSON names and Go types. Values come from the stored JSON as the controller's protobuf
 * decoding would leave them: empty lists and maps are nil; quantities are parsed as
 * resource.ParseQuantity does (canonical strings keep their text). Parts of a template whose
 * types are not described here (rare volume sources, affinity terms) are still hashed, over
 * their JSON, so the hash stays stable but no longer equals Kubernetes' value.
 */
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

typedef enum {
    K_STRUCT,
    K_PTR,
    K_SLICE,
    K_MAP,
    K_STR,
    K_INT,
    K_BOOL,
    K_QTY,
    K_INTSTR,
    K_TIME
} kind_t;

typedef struct gofield gofield_t;
typedef struct gotype {
    const char *name; /* reflect's Type.String() */
    kind_t kind;
    const struct gotype *elem; /* pointers, slices, map values */
    const gofield_t *fields;   /* structs, NULL-terminated; NULL: not described */
} gotype_t;

struct gofield {
    const char *go;
    const char *json; /* NULL: an embedded struct sharing its parent's JSON object */
    const gotype_t *type;
};

/* ---- scalar and generic types ---- */

#define T(id, nm, k)      static const gotype_t id = { nm, k, NULL, NULL }
#define TE(id, nm, k, el) static const gotype_t id = { nm, k, &el, NULL }
/* Described structs: declared first (they refer to each other), defined after their fields. */
#define TS(id)         static const gotype_t id
#define STRUCT(id, nm) static const gotype_t id = { nm, K_STRUCT, NULL, id##_f }
#define TX(id, nm)     static const gotype_t id = { nm, K_STRUCT, NULL, NULL }

T(t_string, "string", K_STR);
T(t_int32, "int32", K_INT);
T(t_int64, "int64", K_INT);
T(t_bool, "bool", K_BOOL);
T(t_uid, "types.UID", K_STR);
T(t_qty, "resource.Quantity", K_QTY);
T(t_intstr, "intstr.IntOrString", K_INTSTR);
T(t_time, "v1.Time", K_TIME);
TE(t_pint64, "*int64", K_PTR, t_int64);
TE(t_pint32, "*int32", K_PTR, t_int32);
TE(t_pbool, "*bool", K_PTR, t_bool);
TE(t_pstring, "*string", K_PTR, t_string);
TE(t_ptime, "*v1.Time", K_PTR, t_time);
TE(t_pqty, "*resource.Quantity", K_PTR, t_qty);
TE(t_strings, "[]string", K_SLICE, t_string);
TE(t_int64s, "[]int64", K_SLICE, t_int64);
TE(t_strmap, "map[string]string", K_MAP, t_string);
TE(t_reslist, "v1.ResourceList", K_MAP, t_qty);

/* Named string types print with their own names. */
T(t_restart_policy, "v1.RestartPolicy", K_STR);
T(t_dns_policy, "v1.DNSPolicy", K_STR);
T(t_protocol, "v1.Protocol", K_STR);
T(t_pull_policy, "v1.PullPolicy", K_STR);
T(t_term_msg_policy, "v1.TerminationMessagePolicy", K_STR);
T(t_uri_scheme, "v1.URIScheme", K_STR);
T(t_toleration_op, "v1.TolerationOperator", K_STR);
T(t_taint_effect, "v1.TaintEffect", K_STR);
T(t_storage_medium, "v1.StorageMedium", K_STR);
T(t_hostpath_type, "v1.HostPathType", K_STR);
T(t_resource_name, "v1.ResourceName", K_STR);
T(t_preemption, "v1.PreemptionPolicy", K_STR);
T(t_resize_policy_restart, "v1.ResourceResizeRestartPolicy", K_STR);
T(t_container_restart, "v1.ContainerRestartPolicy", K_STR);
TE(t_phostpath_type, "*v1.HostPathType", K_PTR, t_hostpath_type);
TE(t_ppreemption, "*v1.PreemptionPolicy", K_PTR, t_preemption);
TE(t_pcontainer_restart, "*v1.ContainerRestartPolicy", K_PTR, t_container_restart);

/* Types only ever seen through a nil pointer or list here, or not described. */
TX(t_affinity, "v1.Affinity");
TX(t_dns_config, "v1.PodDNSConfig");
TX(t_apparmor, "v1.AppArmorProfile");
TX(t_selinux, "v1.SELinuxOptions");
TX(t_windows, "v1.WindowsSecurityContextOptions");
TX(t_grpc, "v1.GRPCAction");
TX(t_pod_os, "v1.PodOS");
TX(t_lifecycle, "v1.Lifecycle");
TE(t_paffinity, "*v1.Affinity", K_PTR, t_affinity);
TE(t_pdns_config, "*v1.PodDNSConfig", K_PTR, t_dns_config);
TS(t_seccomp);
TS(t_capabilities);
TE(t_pseccomp, "*v1.SeccompProfile", K_PTR, t_seccomp);
TE(t_papparmor, "*v1.AppArmorProfile", K_PTR, t_apparmor);
TE(t_pselinux, "*v1.SELinuxOptions", K_PTR, t_selinux);
TE(t_pwindows, "*v1.WindowsSecurityContextOptions", K_PTR, t_windows);
TE(t_pcapabilities, "*v1.Capabilities", K_PTR, t_capabilities);
TE(t_pgrpc, "*v1.GRPCAction", K_PTR, t_grpc);
TE(t_pod_os_p, "*v1.PodOS", K_PTR, t_pod_os);
TE(t_plifecycle, "*v1.Lifecycle", K_PTR, t_lifecycle);
T(t_sup_groups_policy, "v1.SupplementalGroupsPolicy", K_STR);
T(t_fsgroup_policy, "v1.PodFSGroupChangePolicy", K_STR);
T(t_selinux_change, "v1.PodSELinuxChangePolicy", K_STR);
T(t_proc_mount, "v1.ProcMountType", K_STR);
T(t_mount_prop, "v1.MountPropagationMode", K_STR);
T(t_rro, "v1.RecursiveReadOnlyMode", K_STR);
TE(t_psup_groups_policy, "*v1.SupplementalGroupsPolicy", K_PTR, t_sup_groups_policy);
TE(t_pfsgroup_policy, "*v1.PodFSGroupChangePolicy", K_PTR, t_fsgroup_policy);
TE(t_pselinux_change, "*v1.PodSELinuxChangePolicy", K_PTR, t_selinux_change);
TE(t_pproc_mount, "*v1.ProcMountType", K_PTR, t_proc_mount);
TE(t_pmount_prop, "*v1.MountPropagationMode", K_PTR, t_mount_prop);
TE(t_prro, "*v1.RecursiveReadOnlyMode", K_PTR, t_rro);

#define LIST(id, nm, el) TE(id, nm, K_SLICE, el)
#define PTR(id, nm, el)  TE(id, nm, K_PTR, el)

/* ---- described structs ---- */

TS(t_template);
TS(t_objmeta);
TS(t_podspec);
TS(t_container);
TS(t_port);
TS(t_envvar);
TS(t_env_source);
TS(t_field_sel);
TS(t_resource_sel);
TS(t_key_sel);
TS(t_env_from);
TS(t_cm_env);
TS(t_secret_env);
TS(t_resources);
TS(t_res_claim);
TS(t_resize_policy);
TS(t_mount);
TS(t_device);
TS(t_probe);
TS(t_exec);
TS(t_httpget);
TS(t_header);
TS(t_tcp);
TS(t_sec_ctx);
TS(t_pod_sec_ctx);
TS(t_sysctl);
TS(t_local_ref);
TS(t_toleration);
TS(t_host_alias);
TS(t_readiness_gate);
TS(t_sched_gate);
TS(t_pod_res_claim);
TS(t_volume);
TS(t_volsource);
TS(t_emptydir);
TS(t_hostpath);
TS(t_cm_vol);
TS(t_secret_vol);
TS(t_pvc_vol);
TS(t_key_path);
TS(t_owner_ref);
TS(t_ephemeral);
TS(t_topology);

LIST(t_containers, "[]v1.Container", t_container);
LIST(t_ephemerals, "[]v1.EphemeralContainer", t_ephemeral);
LIST(t_ports, "[]v1.ContainerPort", t_port);
LIST(t_envvars, "[]v1.EnvVar", t_envvar);
LIST(t_env_froms, "[]v1.EnvFromSource", t_env_from);
LIST(t_res_claims, "[]v1.ResourceClaim", t_res_claim);
LIST(t_resize_policies, "[]v1.ContainerResizePolicy", t_resize_policy);
LIST(t_mounts, "[]v1.VolumeMount", t_mount);
LIST(t_devices, "[]v1.VolumeDevice", t_device);
LIST(t_headers, "[]v1.HTTPHeader", t_header);
LIST(t_sysctls, "[]v1.Sysctl", t_sysctl);
LIST(t_local_refs, "[]v1.LocalObjectReference", t_local_ref);
LIST(t_tolerations, "[]v1.Toleration", t_toleration);
LIST(t_host_aliases, "[]v1.HostAlias", t_host_alias);
LIST(t_readiness_gates, "[]v1.PodReadinessGate", t_readiness_gate);
LIST(t_sched_gates, "[]v1.PodSchedulingGate", t_sched_gate);
LIST(t_pod_res_claims, "[]v1.PodResourceClaim", t_pod_res_claim);
LIST(t_volumes, "[]v1.Volume", t_volume);
LIST(t_key_paths, "[]v1.KeyToPath", t_key_path);
LIST(t_owner_refs, "[]v1.OwnerReference", t_owner_ref);
LIST(t_topologies, "[]v1.TopologySpreadConstraint", t_topology);
TX(t_managed, "v1.ManagedFieldsEntry");
LIST(t_manageds, "[]v1.ManagedFieldsEntry", t_managed);
PTR(t_penv_source, "*v1.EnvVarSource", t_env_source);
PTR(t_pfield_sel, "*v1.ObjectFieldSelector", t_field_sel);
PTR(t_presource_sel, "*v1.ResourceFieldSelector", t_resource_sel);
PTR(t_pcm_key_sel, "*v1.ConfigMapKeySelector", t_key_sel);
PTR(t_psecret_key_sel, "*v1.SecretKeySelector", t_key_sel);
PTR(t_pcm_env, "*v1.ConfigMapEnvSource", t_cm_env);
PTR(t_psecret_env, "*v1.SecretEnvSource", t_secret_env);
PTR(t_pprobe, "*v1.Probe", t_probe);
PTR(t_pexec, "*v1.ExecAction", t_exec);
PTR(t_phttpget, "*v1.HTTPGetAction", t_httpget);
PTR(t_ptcp, "*v1.TCPSocketAction", t_tcp);
PTR(t_psec_ctx, "*v1.SecurityContext", t_sec_ctx);
PTR(t_ppod_sec_ctx, "*v1.PodSecurityContext", t_pod_sec_ctx);
PTR(t_presources, "*v1.ResourceRequirements", t_resources);
PTR(t_pemptydir, "*v1.EmptyDirVolumeSource", t_emptydir);
PTR(t_phostpath, "*v1.HostPathVolumeSource", t_hostpath);
PTR(t_pcm_vol, "*v1.ConfigMapVolumeSource", t_cm_vol);
PTR(t_psecret_vol, "*v1.SecretVolumeSource", t_secret_vol);
PTR(t_ppvc_vol, "*v1.PersistentVolumeClaimVolumeSource", t_pvc_vol);

static const gofield_t t_objmeta_f[] = {
    { "Name", "name", &t_string },
    { "GenerateName", "generateName", &t_string },
    { "Namespace", "namespace", &t_string },
    { "SelfLink", "selfLink", &t_string },
    { "UID", "uid", &t_uid },
    { "ResourceVersion", "resourceVersion", &t_string },
    { "Generation", "generation", &t_int64 },
    { "CreationTimestamp", "creationTimestamp", &t_time },
    { "DeletionTimestamp", "deletionTimestamp", &t_ptime },
    { "DeletionGracePeriodSeconds", "deletionGracePeriodSeconds", &t_pint64 },
    { "Labels", "labels", &t_strmap },
    { "Annotations", "annotations", &t_strmap },
    { "OwnerReferences", "ownerReferences", &t_owner_refs },
    { "Finalizers", "finalizers", &t_strings },
    { "ManagedFields", "managedFields", &t_manageds },
    { NULL, NULL, NULL },
};

static const gofield_t t_owner_ref_f[] = {
    { "APIVersion", "apiVersion", &t_string },
    { "Kind", "kind", &t_string },
    { "Name", "name", &t_string },
    { "UID", "uid", &t_uid },
    { "Controller", "controller", &t_pbool },
    { "BlockOwnerDeletion", "blockOwnerDeletion", &t_pbool },
    { NULL, NULL, NULL },
};

static const gofield_t t_template_f[] = {
    { "ObjectMeta", "metadata", &t_objmeta },
    { "Spec", "spec", &t_podspec },
    { NULL, NULL, NULL },
};

static const gofield_t t_podspec_f[] = {
    { "Volumes", "volumes", &t_volumes },
    { "InitContainers", "initContainers", &t_containers },
    { "Containers", "containers", &t_containers },
    { "EphemeralContainers", "ephemeralContainers", &t_ephemerals },
    { "RestartPolicy", "restartPolicy", &t_restart_policy },
    { "TerminationGracePeriodSeconds", "terminationGracePeriodSeconds", &t_pint64 },
    { "ActiveDeadlineSeconds", "activeDeadlineSeconds", &t_pint64 },
    { "DNSPolicy", "dnsPolicy", &t_dns_policy },
    { "NodeSelector", "nodeSelector", &t_strmap },
    { "ServiceAccountName", "serviceAccountName", &t_string },
    { "DeprecatedServiceAccount", "serviceAccount", &t_string },
    { "AutomountServiceAccountToken", "automountServiceAccountToken", &t_pbool },
    { "NodeName", "nodeName", &t_string },
    { "HostNetwork", "hostNetwork", &t_bool },
    { "HostPID", "hostPID", &t_bool },
    { "HostIPC", "hostIPC", &t_bool },
    { "ShareProcessNamespace", "shareProcessNamespace", &t_pbool },
    { "SecurityContext", "securityContext", &t_ppod_sec_ctx },
    { "ImagePullSecrets", "imagePullSecrets", &t_local_refs },
    { "Hostname", "hostname", &t_string },
    { "Subdomain", "subdomain", &t_string },
    { "Affinity", "affinity", &t_paffinity },
    { "SchedulerName", "schedulerName", &t_string },
    { "Tolerations", "tolerations", &t_tolerations },
    { "HostAliases", "hostAliases", &t_host_aliases },
    { "PriorityClassName", "priorityClassName", &t_string },
    { "Priority", "priority", &t_pint32 },
    { "DNSConfig", "dnsConfig", &t_pdns_config },
    { "ReadinessGates", "readinessGates", &t_readiness_gates },
    { "RuntimeClassName", "runtimeClassName", &t_pstring },
    { "EnableServiceLinks", "enableServiceLinks", &t_pbool },
    { "PreemptionPolicy", "preemptionPolicy", &t_ppreemption },
    { "Overhead", "overhead", &t_reslist },
    { "TopologySpreadConstraints", "topologySpreadConstraints", &t_topologies },
    { "SetHostnameAsFQDN", "setHostnameAsFQDN", &t_pbool },
    { "OS", "os", &t_pod_os_p },
    { "HostUsers", "hostUsers", &t_pbool },
    { "SchedulingGates", "schedulingGates", &t_sched_gates },
    { "ResourceClaims", "resourceClaims", &t_pod_res_claims },
    { "Resources", "resources", &t_presources },
    { NULL, NULL, NULL },
};

/* Container and EphemeralContainerCommon share one layout. */
#define CONTAINER_FIELDS                                                                      \
    { "Name", "name", &t_string }, { "Image", "image", &t_string },                           \
        { "Command", "command", &t_strings }, { "Args", "args", &t_strings },                 \
        { "WorkingDir", "workingDir", &t_string }, { "Ports", "ports", &t_ports },            \
        { "EnvFrom", "envFrom", &t_env_froms }, { "Env", "env", &t_envvars },                 \
        { "Resources", "resources", &t_resources },                                           \
        { "ResizePolicy", "resizePolicy", &t_resize_policies },                               \
        { "RestartPolicy", "restartPolicy", &t_pcontainer_restart },                          \
        { "VolumeMounts", "volumeMounts", &t_mounts },                                        \
        { "VolumeDevices", "volumeDevices", &t_devices },                                     \
        { "LivenessProbe", "livenessProbe", &t_pprobe },                                      \
        { "ReadinessProbe", "readinessProbe", &t_pprobe },                                    \
        { "StartupProbe", "startupProbe", &t_pprobe },                                        \
        { "Lifecycle", "lifecycle", &t_plifecycle },                                          \
        { "TerminationMessagePath", "terminationMessagePath", &t_string },                    \
        { "TerminationMessagePolicy", "terminationMessagePolicy", &t_term_msg_policy },       \
        { "ImagePullPolicy", "imagePullPolicy", &t_pull_policy },                             \
        { "SecurityContext", "securityContext", &t_psec_ctx }, { "Stdin", "stdin", &t_bool }, \
        { "StdinOnce", "stdinOnce", &t_bool },                                                \
    {                                                                                         \
        "TTY", "tty", &t_bool                                                                 \
    }

static const gofield_t t_container_f[] = { CONTAINER_FIELDS, { NULL, NULL, NULL } };

TS(t_ephemeral_common);
static const gofield_t t_ephemeral_common_f[] = { CONTAINER_FIELDS, { NULL, NULL, NULL } };
static const gofield_t t_ephemeral_f[] = {
    { "EphemeralContainerCommon", NULL, &t_ephemeral_common },
    { "TargetContainerName", "targetContainerName", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_port_f[] = {
    { "Name", "name", &t_string },
    { "HostPort", "hostPort", &t_int32 },
    { "ContainerPort", "containerPort", &t_int32 },
    { "Protocol", "protocol", &t_protocol },
    { "HostIP", "hostIP", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_envvar_f[] = {
    { "Name", "name", &t_string },
    { "Value", "value", &t_string },
    { "ValueFrom", "valueFrom", &t_penv_source },
    { NULL, NULL, NULL },
};

static const gofield_t t_env_source_f[] = {
    { "FieldRef", "fieldRef", &t_pfield_sel },
    { "ResourceFieldRef", "resourceFieldRef", &t_presource_sel },
    { "ConfigMapKeyRef", "configMapKeyRef", &t_pcm_key_sel },
    { "SecretKeyRef", "secretKeyRef", &t_psecret_key_sel },
    { NULL, NULL, NULL },
};

static const gofield_t t_field_sel_f[] = {
    { "APIVersion", "apiVersion", &t_string },
    { "FieldPath", "fieldPath", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_resource_sel_f[] = {
    { "ContainerName", "containerName", &t_string },
    { "Resource", "resource", &t_string },
    { "Divisor", "divisor", &t_qty },
    { NULL, NULL, NULL },
};

/* ConfigMapKeySelector and SecretKeySelector share a layout; only their names differ, and
 * spew prints the name of the pointer, which the field's type carries. */
static const gofield_t t_key_sel_f[] = {
    { "LocalObjectReference", NULL, &t_local_ref },
    { "Key", "key", &t_string },
    { "Optional", "optional", &t_pbool },
    { NULL, NULL, NULL },
};

static const gofield_t t_env_from_f[] = {
    { "Prefix", "prefix", &t_string },
    { "ConfigMapRef", "configMapRef", &t_pcm_env },
    { "SecretRef", "secretRef", &t_psecret_env },
    { NULL, NULL, NULL },
};

static const gofield_t t_cm_env_f[] = {
    { "LocalObjectReference", NULL, &t_local_ref },
    { "Optional", "optional", &t_pbool },
    { NULL, NULL, NULL },
};
#define t_secret_env_f t_cm_env_f

static const gofield_t t_resources_f[] = {
    { "Limits", "limits", &t_reslist },
    { "Requests", "requests", &t_reslist },
    { "Claims", "claims", &t_res_claims },
    { NULL, NULL, NULL },
};

static const gofield_t t_res_claim_f[] = {
    { "Name", "name", &t_string },
    { "Request", "request", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_resize_policy_f[] = {
    { "ResourceName", "resourceName", &t_resource_name },
    { "RestartPolicy", "restartPolicy", &t_resize_policy_restart },
    { NULL, NULL, NULL },
};

static const gofield_t t_mount_f[] = {
    { "Name", "name", &t_string },
    { "ReadOnly", "readOnly", &t_bool },
    { "RecursiveReadOnly", "recursiveReadOnly", &t_prro },
    { "MountPath", "mountPath", &t_string },
    { "SubPath", "subPath", &t_string },
    { "MountPropagation", "mountPropagation", &t_pmount_prop },
    { "SubPathExpr", "subPathExpr", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_device_f[] = {
    { "Name", "name", &t_string },
    { "DevicePath", "devicePath", &t_string },
    { NULL, NULL, NULL },
};

/* Probe embeds ProbeHandler: spew prints it as a field of that name. */
TS(t_probe_handler);
static const gofield_t t_probe_handler_f[] = {
    { "Exec", "exec", &t_pexec },
    { "HTTPGet", "httpGet", &t_phttpget },
    { "TCPSocket", "tcpSocket", &t_ptcp },
    { "GRPC", "grpc", &t_pgrpc },
    { NULL, NULL, NULL },
};

static const gofield_t t_probe_f[] = {
    { "ProbeHandler", NULL, &t_probe_handler },
    { "InitialDelaySeconds", "initialDelaySeconds", &t_int32 },
    { "TimeoutSeconds", "timeoutSeconds", &t_int32 },
    { "PeriodSeconds", "periodSeconds", &t_int32 },
    { "SuccessThreshold", "successThreshold", &t_int32 },
    { "FailureThreshold", "failureThreshold", &t_int32 },
    { "TerminationGracePeriodSeconds", "terminationGracePeriodSeconds", &t_pint64 },
    { NULL, NULL, NULL },
};

static const gofield_t t_exec_f[] = { { "Command", "command", &t_strings }, { NULL, NULL, NULL } };

static const gofield_t t_httpget_f[] = {
    { "Path", "path", &t_string },
    { "Port", "port", &t_intstr },
    { "Host", "host", &t_string },
    { "Scheme", "scheme", &t_uri_scheme },
    { "HTTPHeaders", "httpHeaders", &t_headers },
    { NULL, NULL, NULL },
};

static const gofield_t t_header_f[] = {
    { "Name", "name", &t_string },
    { "Value", "value", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_tcp_f[] = {
    { "Port", "port", &t_intstr },
    { "Host", "host", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_sec_ctx_f[] = {
    { "Capabilities", "capabilities", &t_pcapabilities },
    { "Privileged", "privileged", &t_pbool },
    { "SELinuxOptions", "seLinuxOptions", &t_pselinux },
    { "WindowsOptions", "windowsOptions", &t_pwindows },
    { "RunAsUser", "runAsUser", &t_pint64 },
    { "RunAsGroup", "runAsGroup", &t_pint64 },
    { "RunAsNonRoot", "runAsNonRoot", &t_pbool },
    { "ReadOnlyRootFilesystem", "readOnlyRootFilesystem", &t_pbool },
    { "AllowPrivilegeEscalation", "allowPrivilegeEscalation", &t_pbool },
    { "ProcMount", "procMount", &t_pproc_mount },
    { "SeccompProfile", "seccompProfile", &t_pseccomp },
    { "AppArmorProfile", "appArmorProfile", &t_papparmor },
    { NULL, NULL, NULL },
};

T(t_capability, "v1.Capability", K_STR);
TE(t_capability_list, "[]v1.Capability", K_SLICE, t_capability);
static const gofield_t t_capabilities_f[] = {
    { "Add", "add", &t_capability_list },
    { "Drop", "drop", &t_capability_list },
    { NULL, NULL, NULL },
};

T(t_seccomp_type, "v1.SeccompProfileType", K_STR);
static const gofield_t t_seccomp_f[] = {
    { "Type", "type", &t_seccomp_type },
    { "LocalhostProfile", "localhostProfile", &t_pstring },
    { NULL, NULL, NULL },
};

static const gofield_t t_pod_sec_ctx_f[] = {
    { "SELinuxOptions", "seLinuxOptions", &t_pselinux },
    { "WindowsOptions", "windowsOptions", &t_pwindows },
    { "RunAsUser", "runAsUser", &t_pint64 },
    { "RunAsGroup", "runAsGroup", &t_pint64 },
    { "RunAsNonRoot", "runAsNonRoot", &t_pbool },
    { "SupplementalGroups", "supplementalGroups", &t_int64s },
    { "SupplementalGroupsPolicy", "supplementalGroupsPolicy", &t_psup_groups_policy },
    { "FSGroup", "fsGroup", &t_pint64 },
    { "Sysctls", "sysctls", &t_sysctls },
    { "FSGroupChangePolicy", "fsGroupChangePolicy", &t_pfsgroup_policy },
    { "SeccompProfile", "seccompProfile", &t_pseccomp },
    { "AppArmorProfile", "appArmorProfile", &t_papparmor },
    { "SELinuxChangePolicy", "seLinuxChangePolicy", &t_pselinux_change },
    { NULL, NULL, NULL },
};

static const gofield_t t_sysctl_f[] = {
    { "Name", "name", &t_string },
    { "Value", "value", &t_string },
    { NULL, NULL, NULL },
};

static const gofield_t t_local_ref_f[] = { { "Name", "name", &t_string }, { NULL, NULL, NULL } };

static const gofield_t t_toleration_f[] = {
    { "Key", "key", &t_string },
    { "Operator", "operator", &t_toleration_op },
    { "Value", "value", &t_string },
    { "Effect", "effect", &t_taint_effect },
    { "TolerationSeconds", "tolerationSeconds", &t_pint64 },
    { NULL, NULL, NULL },
};

static const gofield_t t_host_alias_f[] = {
    { "IP", "ip", &t_string },
    { "Hostnames", "hostnames", &t_strings },
    { NULL, NULL, NULL },
};

T(t_pod_cond_type, "v1.PodConditionType", K_STR);
static const gofield_t t_readiness_gate_f[] = {
    { "ConditionType", "conditionType", &t_pod_cond_type },
    { NULL, NULL, NULL },
};

static const gofield_t t_sched_gate_f[] = { { "Name", "name", &t_string }, { NULL, NULL, NULL } };

static const gofield_t t_pod_res_claim_f[] = {
    { "Name", "name", &t_string },
    { "ResourceClaimName", "resourceClaimName", &t_pstring },
    { "ResourceClaimTemplateName", "resourceClaimTemplateName", &t_pstring },
    { NULL, NULL, NULL },
};

static const gofield_t t_topology_f[] = { { NULL, NULL, NULL } };

static const gofield_t t_volume_f[] = {
    { "Name", "name", &t_string },
    { "VolumeSource", NULL, &t_volsource },
    { NULL, NULL, NULL },
};

#define VOLSRC(go, js, ty)                                                              \
    {                                                                                   \
        go, js, &(const gotype_t)                                                       \
        {                                                                               \
            "*v1." ty, K_PTR, &(const gotype_t){ "v1." ty, K_STRUCT, NULL, NULL }, NULL \
        }                                                                               \
    }

static const gofield_t t_volsource_f[] = {
    { "HostPath", "hostPath", &t_phostpath },
    { "EmptyDir", "emptyDir", &t_pemptydir },
    VOLSRC("GCEPersistentDisk", "gcePersistentDisk", "GCEPersistentDiskVolumeSource"),
    VOLSRC("AWSElasticBlockStore", "awsElasticBlockStore", "AWSElasticBlockStoreVolumeSource"),
    VOLSRC("GitRepo", "gitRepo", "GitRepoVolumeSource"),
    { "Secret", "secret", &t_psecret_vol },
    VOLSRC("NFS", "nfs", "NFSVolumeSource"),
    VOLSRC("ISCSI", "iscsi", "ISCSIVolumeSource"),
    VOLSRC("Glusterfs", "glusterfs", "GlusterfsVolumeSource"),
    { "PersistentVolumeClaim", "persistentVolumeClaim", &t_ppvc_vol },
    VOLSRC("RBD", "rbd", "RBDVolumeSource"),
    VOLSRC("FlexVolume", "flexVolume", "FlexVolumeSource"),
    VOLSRC("Cinder", "cinder", "CinderVolumeSource"),
    VOLSRC("CephFS", "cephfs", "CephFSVolumeSource"),
    VOLSRC("Flocker", "flocker", "FlockerVolumeSource"),
    VOLSRC("DownwardAPI", "downwardAPI", "DownwardAPIVolumeSource"),
    VOLSRC("FC", "fc", "FCVolumeSource"),
    VOLSRC("AzureFile", "azureFile", "AzureFileVolumeSource"),
    { "ConfigMap", "configMap", &t_pcm_vol },
    VOLSRC("VsphereVolume", "vsphereVolume", "VsphereVirtualDiskVolumeSource"),
    VOLSRC("Quobyte", "quobyte", "QuobyteVolumeSource"),
    VOLSRC("AzureDisk", "azureDisk", "AzureDiskVolumeSource"),
    VOLSRC("PhotonPersistentDisk", "photonPersistentDisk", "PhotonPersistentDiskVolumeSource"),
    VOLSRC("Projected", "projected", "ProjectedVolumeSource"),
    VOLSRC("PortworxVolume", "portworxVolume", "PortworxVolumeSource"),
    VOLSRC("ScaleIO", "scaleIO", "ScaleIOVolumeSource"),
    VOLSRC("StorageOS", "storageos", "StorageOSVolumeSource"),
    VOLSRC("CSI", "csi", "CSIVolumeSource"),
    VOLSRC("Ephemeral", "ephemeral", "EphemeralVolumeSource"),
    VOLSRC("Image", "image", "ImageVolumeSource"),
    { NULL, NULL, NULL },
};

static const gofield_t t_emptydir_f[] = {
    { "Medium", "medium", &t_storage_medium },
    { "SizeLimit", "sizeLimit", &t_pqty },
    { NULL, NULL, NULL },
};

static const gofield_t t_hostpath_f[] = {
    { "Path", "path", &t_string },
    { "Type", "type", &t_phostpath_type },
    { NULL, NULL, NULL },
};

static const gofield_t t_cm_vol_f[] = {
    { "LocalObjectReference", NULL, &t_local_ref },
    { "Items", "items", &t_key_paths },
    { "DefaultMode", "defaultMode", &t_pint32 },
    { "Optional", "optional", &t_pbool },
    { NULL, NULL, NULL },
};

static const gofield_t t_secret_vol_f[] = {
    { "SecretName", "secretName", &t_string },
    { "Items", "items", &t_key_paths },
    { "DefaultMode", "defaultMode", &t_pint32 },
    { "Optional", "optional", &t_pbool },
    { NULL, NULL, NULL },
};

static const gofield_t t_pvc_vol_f[] = {
    { "ClaimName", "claimName", &t_string },
    { "ReadOnly", "readOnly", &t_bool },
    { NULL, NULL, NULL },
};

static const gofield_t t_key_path_f[] = {
    { "Key", "key", &t_string },
    { "Path", "path", &t_string },
    { "Mode", "mode", &t_pint32 },
    { NULL, NULL, NULL },
};

STRUCT(t_template, "v1.PodTemplateSpec");
STRUCT(t_objmeta, "v1.ObjectMeta");
STRUCT(t_owner_ref, "v1.OwnerReference");
STRUCT(t_podspec, "v1.PodSpec");
STRUCT(t_container, "v1.Container");
STRUCT(t_ephemeral, "v1.EphemeralContainer");
STRUCT(t_ephemeral_common, "v1.EphemeralContainerCommon");
STRUCT(t_port, "v1.ContainerPort");
STRUCT(t_envvar, "v1.EnvVar");
STRUCT(t_env_source, "v1.EnvVarSource");
STRUCT(t_field_sel, "v1.ObjectFieldSelector");
STRUCT(t_resource_sel, "v1.ResourceFieldSelector");
STRUCT(t_key_sel, "v1.ConfigMapKeySelector");
STRUCT(t_env_from, "v1.EnvFromSource");
STRUCT(t_cm_env, "v1.ConfigMapEnvSource");
STRUCT(t_secret_env, "v1.SecretEnvSource");
STRUCT(t_resources, "v1.ResourceRequirements");
STRUCT(t_res_claim, "v1.ResourceClaim");
STRUCT(t_resize_policy, "v1.ContainerResizePolicy");
STRUCT(t_mount, "v1.VolumeMount");
STRUCT(t_device, "v1.VolumeDevice");
STRUCT(t_probe, "v1.Probe");
STRUCT(t_probe_handler, "v1.ProbeHandler");
STRUCT(t_capabilities, "v1.Capabilities");
STRUCT(t_seccomp, "v1.SeccompProfile");
STRUCT(t_exec, "v1.ExecAction");
STRUCT(t_httpget, "v1.HTTPGetAction");
STRUCT(t_header, "v1.HTTPHeader");
STRUCT(t_tcp, "v1.TCPSocketAction");
STRUCT(t_sec_ctx, "v1.SecurityContext");
STRUCT(t_pod_sec_ctx, "v1.PodSecurityContext");
STRUCT(t_sysctl, "v1.Sysctl");
STRUCT(t_local_ref, "v1.LocalObjectReference");
STRUCT(t_toleration, "v1.Toleration");
STRUCT(t_host_alias, "v1.HostAlias");
STRUCT(t_readiness_gate, "v1.PodReadinessGate");
STRUCT(t_sched_gate, "v1.PodSchedulingGate");
STRUCT(t_pod_res_claim, "v1.PodResourceClaim");
STRUCT(t_volume, "v1.Volume");
STRUCT(t_volsource, "v1.VolumeSource");
STRUCT(t_emptydir, "v1.EmptyDirVolumeSource");
STRUCT(t_hostpath, "v1.HostPathVolumeSource");
STRUCT(t_cm_vol, "v1.ConfigMapVolumeSource");
STRUCT(t_secret_vol, "v1.SecretVolumeSource");
STRUCT(t_pvc_vol, "v1.PersistentVolumeClaimVolumeSource");
STRUCT(t_key_path, "v1.KeyToPath");
STRUCT(t_topology, "v1.TopologySpreadConstraint");

/* ---- resource.Quantity as ParseQuantity leaves it ---- */

struct suffix {
    const char *s;
    int exp;
    const char *format; /* "DecimalSI", "BinarySI" */
};

static const struct suffix suffixes[] = {
    { "", 0, "DecimalSI" },   { "n", -9, "DecimalSI" }, { "u", -6, "DecimalSI" },
    { "m", -3, "DecimalSI" }, { "k", 3, "DecimalSI" },  { "M", 6, "DecimalSI" },
    { "G", 9, "DecimalSI" },  { "T", 12, "DecimalSI" }, { "P", 15, "DecimalSI" },
    { "E", 18, "DecimalSI" }, { "Ki", 10, "BinarySI" }, { "Mi", 20, "BinarySI" },
    { "Gi", 30, "BinarySI" }, { "Ti", 40, "BinarySI" }, { "Pi", 50, "BinarySI" },
    { "Ei", 60, "BinarySI" },
};

static void print_int64_amount(ek_buf_t *b, long long value, int scale, const char *s,
                               const char *format)
{
    ek_buf_printf(b,
                  "{i:(resource.int64Amount){value:(int64)%lld scale:(resource.Scale)%d} "
                  "d:(resource.infDecAmount){Dec:(*inf.Dec)<nil>} s:(string)%s "
                  "Format:(resource.Format)%s}",
                  value, scale, s, format);
}

/* ParseQuantity's int64 fast path, which every everyday quantity takes; the canonical text is
 * kept in s (as Kubernetes keeps it) when the value is already in canonical form. */
static int parse_quantity(ek_buf_t *b, const char *str)
{
    const char *p = str;
    bool neg = *p == '-';
    p += (*p == '-' || *p == '+');
    while (*p == '0') {
        p++;
    }
    const char *num = p;
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    size_t nnum = (size_t)(p - num);
    const char *denom = "";
    size_t nden = 0;
    if (*p == '.') {
        denom = ++p;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        nden = (size_t)(p - denom);
    }
    const struct suffix *sf = NULL;
    for (size_t i = 0; i < EK_ARRAY_SIZE(suffixes); i++) {
        if (strcmp(p, suffixes[i].s) == 0) {
            sf = &suffixes[i];
        }
    }
    if (!sf) {
        return -1; /* exponent forms and errors: not described */
    }
    char digits[64];
    if (nnum == 0) {
        num = "0";
        nnum = 1;
    }
    if (nnum + nden >= sizeof(digits) - 1) {
        return -1;
    }
    snprintf(digits, sizeof(digits), "%.*s%.*s", (int)nnum, num, (int)nden, denom);
    bool binary = ek_streq(sf->format, "BinarySI");
    int scale = binary ? 0 : sf->exp, precision;
    if (binary) {
        precision = nden == 0 ? 15 - (int)nnum - (int)((float)sf->exp * 3 / 10) - 1 : -1;
    } else {
        precision = 18 - (int)(nnum + nden);
    }
    scale -= (int)nden;
    if (precision < 0 || scale < -9) {
        return -1;
    }
    long long value = strtoll(digits, NULL, 10);
    long long mant = binary ? (1LL << sf->exp) : 1, result;
    if (__builtin_mul_overflow(value, mant, &result)) {
        return -1;
    }
    result = neg ? -result : result;
    size_t nd = strlen(digits);
    bool canonical = binary
                         ? (sf->exp % 10 == 0 && (value & 7) != 0)
                         : (scale % 3 == 0 && !(nd >= 3 && strcmp(digits + nd - 3, "000") == 0) &&
                            digits[0] != '0');
    print_int64_amount(b, result, scale, canonical ? str : "", sf->format);
    return 0;
}

static void print_quantity(ek_buf_t *b, const char *str)
{
    if (strcmp(str, "0") == 0) {
        print_int64_amount(b, 0, 0, "0", "DecimalSI");
        return;
    }
    if (!*str || parse_quantity(b, str) < 0) {
        ek_buf_printf(b, "{unparsed:%s}", str);
    }
}

/* ---- printing as go-spew's %#v does ---- */

static void print_value(ek_buf_t *b, const gotype_t *t, const json_t *v, bool ignore_type);

static bool is_nil(const json_t *v)
{
    /* Protobuf decoding leaves empty lists and maps nil. */
    return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}

static void type_prefix(ek_buf_t *b, const gotype_t *t, bool ignore_type)
{
    if (!ignore_type) {
        ek_buf_printf(b, "(%s)", t->name);
    }
}

static void print_struct(ek_buf_t *b, const gotype_t *t, const json_t *v)
{
    if (!t->fields || !t->fields[0].go) {
        /* Not described: hash its JSON so the result stays deterministic. */
        ek_autofree char *s = ek_json_dumps(v ? v : json_null());
        ek_buf_printf(b, "{%s}", s);
        return;
    }
    ek_buf_append(b, "{", 1);
    for (const gofield_t *f = t->fields; f->go; f++) {
        if (f != t->fields) {
            ek_buf_append(b, " ", 1);
        }
        ek_buf_printf(b, "%s:", f->go);
        const json_t *fv = f->json ? json_object_get(v, f->json) : v;
        print_value(b, f->type, fv, false);
    }
    ek_buf_append(b, "}", 1);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_map(ek_buf_t *b, const gotype_t *t, const json_t *v)
{
    size_t n = json_object_size(v), i = 0;
    const char **keys = ek_xcalloc(n + 1, sizeof(*keys));
    const char *k;
    json_t *val;
    json_object_foreach ((json_t *)v, k, val) {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_keys);
    ek_buf_append(b, "map[", 4);
    for (i = 0; i < n; i++) {
        if (i > 0) {
            ek_buf_append(b, " ", 1);
        }
        ek_buf_printf(b, "%s:", keys[i]);
        print_value(b, t->elem, json_object_get(v, keys[i]), true);
    }
    ek_buf_append(b, "]", 1);
    free(keys);
}

static void print_list(ek_buf_t *b, const gotype_t *t, const json_t *v)
{
    ek_buf_append(b, "[", 1);
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (i > 0) {
            ek_buf_append(b, " ", 1);
        }
        print_value(b, t->elem, json_array_get(v, i), true);
    }
    ek_buf_append(b, "]", 1);
}

static void print_scalar(ek_buf_t *b, const gotype_t *t, const json_t *v)
{
    switch (t->kind) {
    case K_STR:
        ek_buf_printf(b, "%s", json_is_string(v) ? json_string_value(v) : "");
        break;
    case K_INT:
        ek_buf_printf(b, "%lld", json_is_number(v) ? (long long)json_number_value(v) : 0LL);
        break;
    case K_BOOL:
        ek_buf_printf(b, "%s", json_is_true(v) ? "true" : "false");
        break;
    default:
        break;
    }
}

static void print_intstr(ek_buf_t *b, const json_t *v)
{
    bool str = json_is_string(v);
    ek_buf_printf(b, "{Type:(intstr.Type)%d IntVal:(int32)%lld StrVal:(string)%s}", str ? 1 : 0,
                  json_is_integer(v) ? (long long)json_integer_value(v) : 0LL,
                  str ? json_string_value(v) : "");
}

static void print_time(ek_buf_t *b)
{
    /* Templates carry no timestamps: creationTimestamp is always the zero time. */
    ek_buf_printf(b, "{Time:(time.Time){wall:(uint64)0 ext:(int64)0 loc:(*time.Location)<nil>}}");
}

static void print_value(ek_buf_t *b, const gotype_t *t, const json_t *v, bool ignore_type)
{
    switch (t->kind) {
    case K_PTR:
        if (is_nil(v) && !(json_is_object(v) && t->elem->kind == K_STRUCT)) {
            /* A nil pointer (an empty object is a non-nil pointer to an empty struct). */
            type_prefix(b, t, ignore_type);
            ek_buf_puts(b, "<nil>");
            return;
        }
        if (ignore_type) {
            ek_buf_puts(b, "<*>");
        }
        type_prefix(b, t, ignore_type);
        print_value(b, t->elem, v, true);
        return;
    case K_SLICE:
    case K_MAP:
        type_prefix(b, t, ignore_type);
        if (is_nil(v)) {
            ek_buf_append(b, "<nil>", 5);
        } else if (t->kind == K_SLICE) {
            print_list(b, t, v);
        } else {
            print_map(b, t, v);
        }
        return;
    case K_STRUCT:
        type_prefix(b, t, ignore_type);
        print_struct(b, t, v);
        return;
    case K_QTY:
        type_prefix(b, t, ignore_type);
        print_quantity(b, json_is_string(v) ? json_string_value(v) : "");
        return;
    case K_INTSTR:
        type_prefix(b, t, ignore_type);
        print_intstr(b, v);
        return;
    case K_TIME:
        type_prefix(b, t, ignore_type);
        print_time(b);
        return;
    default:
        type_prefix(b, t, ignore_type);
        print_scalar(b, t, v);
        return;
    }
}

/* ---- the hash ---- */

char *pod_template_spew(const json_t *tmpl)
{
    ek_buf_t b = { 0 };
    print_value(&b, &t_template, tmpl, false);
    return ek_buf_steal(&b, NULL);
}

static uint32_t fnv32a(uint32_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

char *pod_template_hash(const json_t *tmpl, const json_t *collision)
{
    ek_autofree char *text = pod_template_spew(tmpl);
    uint32_t h = fnv32a(2166136261u, text, strlen(text));
    if (collision && json_is_integer(collision)) {
        uint32_t c = (uint32_t)json_integer_value(collision);
        unsigned char le[8] = { (unsigned char)c, (unsigned char)(c >> 8), (unsigned char)(c >> 16),
                                (unsigned char)(c >> 24) };
        h = fnv32a(h, le, sizeof(le));
    }
    /* rand.SafeEncodeString over the decimal digits: no vowels, no look-alikes. */
    static const char alphanums[] = "bcdfghjklmnpqrstvwxz2456789";
    char dec[16];
    int n = snprintf(dec, sizeof(dec), "%u", h);
    for (int i = 0; i < n; i++) {
        dec[i] = alphanums[(unsigned char)dec[i] % (sizeof(alphanums) - 1)];
    }
    return ek_xstrdup(dec);
}
