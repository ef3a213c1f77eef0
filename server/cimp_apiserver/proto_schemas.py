"""Field tables of the Kubernetes built-in types the embedded API server serves.

One table feeds two consumers: the protobuf request decoder (``protobuf.py``: field number to
JSON name and type) and the OpenAPI v3 documents (``openapi.py``: properties, patch strategies
and list types that kubectl's strategic merge patch reads). The facts (field numbers, JSON
names, Go pointer-ness, ``patchStrategy``/``patchMergeKey`` tags, ``+listType``/``+listMapKey``
and ``+mapType`` markers) are those of k8s.io/api and k8s.io/apimachinery at the 1.36
development line; protobuf field numbers never change, so older clients decode the same.

Each message is a tuple of ``"<number> <jsonName> <type> [options]"`` strings. ``<type>`` is a
scalar (``string``, ``int32``, ``int64``, ``bool``, ``bytes``) or a message name (without a
package prefix: the message's own package), prefixed with ``[]`` when repeated and ``{}`` for a
``map<string, T>``. Options: ``inline`` (the message's fields are the parent's in JSON), ``ptr``
(a Go pointer: zero values on the wire were set on purpose and are kept), ``m=`` patch merge
key, ``s=`` patch strategy, ``l=`` list type, ``k=`` list map keys, ``mt=`` map type. A message
given as :data:`LIST` is a ``[]string`` in JSON (``ExtraValue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

__all__ = [
    "LIST",
    "SCALARS",
    "TOP_LEVEL",
    "WELL_KNOWN",
    "Field",
    "Message",
    "group_version_of",
    "message",
    "message_names",
    "top_level_message",
]

LIST = "list"
SCALARS = frozenset({"string", "int32", "int64", "bool", "bytes"})
# Types with a JSON form of their own, not an object of their proto fields.
WELL_KNOWN = frozenset(
    {
        "meta.v1.Time",
        "meta.v1.MicroTime",
        "meta.v1.FieldsV1",
        "resource.Quantity",
        "intstr.IntOrString",
    }
)

# Proto package prefix -> (API group, version) for the top-level kinds.
_GROUP_VERSIONS = {
    "core.v1": ("", "v1"),
    "apps.v1": ("apps", "v1"),
    "rbac.v1": ("rbac.authorization.k8s.io", "v1"),
    "authentication.v1": ("authentication.k8s.io", "v1"),
    "authorization.v1": ("authorization.k8s.io", "v1"),
    "policy.v1": ("policy", "v1"),
    "meta.v1": ("meta.k8s.io", "v1"),
}

# Kinds a client may send as a request body (the roots of the table).
TOP_LEVEL = (
    "core.v1.Namespace",
    "core.v1.Node",
    "core.v1.Pod",
    "core.v1.ServiceAccount",
    "core.v1.ConfigMap",
    "core.v1.Secret",
    "core.v1.Event",
    "core.v1.Binding",
    "authentication.v1.TokenRequest",
    "authentication.v1.TokenReview",
    "authentication.v1.SelfSubjectReview",
    "authorization.v1.SubjectAccessReview",
    "authorization.v1.SelfSubjectAccessReview",
    "authorization.v1.LocalSubjectAccessReview",
    "authorization.v1.SelfSubjectRulesReview",
    "rbac.v1.Role",
    "rbac.v1.ClusterRole",
    "rbac.v1.RoleBinding",
    "rbac.v1.ClusterRoleBinding",
    "apps.v1.DaemonSet",
    "policy.v1.Eviction",
    "meta.v1.DeleteOptions",
)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message, parsed from its table line."""

    number: int
    name: str
    type: str
    repeated: bool = False
    map: bool = False
    inline: bool = False
    pointer: bool = False
    merge_key: str = ""
    strategy: str = ""
    list_type: str = ""
    list_keys: tuple[str, ...] = ()
    map_type: str = ""

    @property
    def is_message(self) -> bool:
        return self.type not in SCALARS


@dataclass(frozen=True, slots=True)
class Message:
    """A message: its fields in declaration order and by number; ``is_list`` for wrappers."""

    name: str
    fields: tuple[Field, ...]
    by_number: dict[int, Field]
    is_list: bool = False


def _parse_field(line: str, package: str) -> Field:
    number, name, typ, *options = line.split()
    repeated = typ.startswith("[]")
    is_map = typ.startswith("{}")
    if repeated or is_map:
        typ = typ[2:]
    if typ not in SCALARS and "." not in typ:
        typ = f"{package}.{typ}"
    opts: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        opts[key] = value
    return Field(
        number=int(number),
        name=name,
        type=typ,
        repeated=repeated,
        map=is_map,
        inline="inline" in opts,
        pointer="ptr" in opts,
        merge_key=opts.get("m", ""),
        strategy=opts.get("s", ""),
        list_type=opts.get("l", ""),
        list_keys=tuple(opts["k"].split(",")) if "k" in opts else (),
        map_type=opts.get("mt", ""),
    )


@cache
def message(name: str) -> Message:
    """The parsed message ``name`` (e.g. ``core.v1.Pod``); ``KeyError`` if not in the table."""
    spec = _TABLE[name]
    if spec == LIST:
        item = Field(1, "items", "string", repeated=True)
        return Message(name, (item,), {1: item}, is_list=True)
    package = name.rpartition(".")[0]
    fields = tuple(_parse_field(line, package) for line in spec)
    return Message(name, fields, {f.number: f for f in fields})


def message_names() -> tuple[str, ...]:
    return tuple(_TABLE)


def group_version_of(name: str) -> tuple[str, str]:
    """``(group, version)`` of a message's package (``core.v1.Pod`` -> ``("", "v1")``)."""
    package, _, _ = name.rpartition(".")
    return _GROUP_VERSIONS[package]


@cache
def _top_level_index() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for name in TOP_LEVEL:
        group, version = group_version_of(name)
        api_version = f"{group}/{version}" if group else version
        index[(api_version, name.rpartition(".")[2])] = name
    return index


def top_level_message(api_version: str, kind: str) -> str | None:
    """The message of a request body's ``apiVersion``/``kind``, or ``None`` if not served.

    ``DeleteOptions`` is accepted under any API version, as kube-apiserver registers it in every
    group version a client may encode it with.
    """
    if kind == "DeleteOptions":
        return "meta.v1.DeleteOptions"
    return _top_level_index().get((api_version, kind))


_TABLE: dict[str, tuple[str, ...] | str] = {
    "core.v1.Namespace": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec NamespaceSpec",
        "3 status NamespaceStatus",
    ),
    "meta.v1.ObjectMeta": (
        "1 name string",
        "2 generateName string",
        "3 namespace string",
        "4 selfLink string",
        "5 uid string",
        "6 resourceVersion string",
        "7 generation int64",
        "8 creationTimestamp Time",
        "9 deletionTimestamp Time ptr",
        "10 deletionGracePeriodSeconds int64 ptr",
        "11 labels {}string",
        "12 annotations {}string",
        "13 ownerReferences []OwnerReference m=uid s=merge l=map k=uid",
        "14 finalizers []string s=merge l=set",
        "17 managedFields []ManagedFieldsEntry l=atomic",
    ),
    "meta.v1.OwnerReference": (
        "5 apiVersion string",
        "1 kind string",
        "3 name string",
        "4 uid string",
        "6 controller bool ptr",
        "7 blockOwnerDeletion bool ptr",
    ),
    "meta.v1.ManagedFieldsEntry": (
        "1 manager string",
        "2 operation string",
        "3 apiVersion string",
        "4 time Time ptr",
        "6 fieldsType string",
        "7 fieldsV1 FieldsV1 ptr",
        "8 subresource string",
    ),
    "core.v1.NamespaceSpec": ("1 finalizers []string l=atomic",),
    "core.v1.NamespaceStatus": (
        "1 phase string",
        "2 conditions []NamespaceCondition m=type s=merge l=map k=type",
    ),
    "core.v1.NamespaceCondition": (
        "1 type string",
        "2 status string",
        "4 lastTransitionTime meta.v1.Time",
        "5 reason string",
        "6 message string",
    ),
    "core.v1.Node": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec NodeSpec",
        "3 status NodeStatus",
    ),
    "core.v1.NodeSpec": (
        "1 podCIDR string",
        "7 podCIDRs []string s=merge l=set",
        "3 providerID string",
        "4 unschedulable bool",
        "5 taints []Taint l=atomic",
        "6 configSource NodeConfigSource ptr",
        "2 externalID string",
        "8 podPreemptionPolicy NodePodPreemptionPolicy ptr",
    ),
    "core.v1.Taint": (
        "1 key string",
        "2 value string",
        "3 effect string",
        "4 timeAdded meta.v1.Time ptr",
    ),
    "core.v1.NodeConfigSource": ("2 configMap ConfigMapNodeConfigSource ptr",),
    "core.v1.ConfigMapNodeConfigSource": (
        "1 namespace string",
        "2 name string",
        "3 uid string",
        "4 resourceVersion string",
        "5 kubeletConfigKey string",
    ),
    "core.v1.NodePodPreemptionPolicy": ("1 disableResizePreemption []string l=set",),
    "core.v1.NodeStatus": (
        "1 capacity {}resource.Quantity",
        "2 allocatable {}resource.Quantity",
        "3 phase string",
        "4 conditions []NodeCondition m=type s=merge l=map k=type",
        "5 addresses []NodeAddress m=type s=merge l=map k=type",
        "6 daemonEndpoints NodeDaemonEndpoints",
        "7 nodeInfo NodeSystemInfo",
        "8 images []ContainerImage l=atomic",
        "9 volumesInUse []string l=atomic",
        "10 volumesAttached []AttachedVolume l=atomic",
        "11 config NodeConfigStatus ptr",
        "12 runtimeHandlers []NodeRuntimeHandler l=atomic",
        "13 features NodeFeatures ptr",
        "14 declaredFeatures []string l=atomic",
    ),
    "core.v1.NodeCondition": (
        "1 type string",
        "2 status string",
        "3 lastHeartbeatTime meta.v1.Time",
        "4 lastTransitionTime meta.v1.Time",
        "5 reason string",
        "6 message string",
    ),
    "core.v1.NodeAddress": (
        "1 type string",
        "2 address string",
    ),
    "core.v1.NodeDaemonEndpoints": ("1 kubeletEndpoint DaemonEndpoint",),
    "core.v1.DaemonEndpoint": ("1 Port int32",),
    "core.v1.NodeSystemInfo": (
        "1 machineID string",
        "2 systemUUID string",
        "3 bootID string",
        "4 kernelVersion string",
        "5 osImage string",
        "6 containerRuntimeVersion string",
        "7 kubeletVersion string",
        "8 kubeProxyVersion string",
        "9 operatingSystem string",
        "10 architecture string",
        "11 swap NodeSwapStatus ptr",
    ),
    "core.v1.NodeSwapStatus": ("1 capacity int64 ptr",),
    "core.v1.ContainerImage": (
        "1 names []string l=atomic",
        "2 sizeBytes int64",
    ),
    "core.v1.AttachedVolume": (
        "1 name string",
        "2 devicePath string",
    ),
    "core.v1.NodeConfigStatus": (
        "1 assigned NodeConfigSource ptr",
        "2 active NodeConfigSource ptr",
        "3 lastKnownGood NodeConfigSource ptr",
        "4 error string",
    ),
    "core.v1.NodeRuntimeHandler": (
        "1 name string",
        "2 features NodeRuntimeHandlerFeatures ptr",
    ),
    "core.v1.NodeRuntimeHandlerFeatures": (
        "1 recursiveReadOnlyMounts bool ptr",
        "2 userNamespaces bool ptr",
    ),
    "core.v1.NodeFeatures": ("1 supplementalGroupsPolicy bool ptr",),
    "core.v1.Pod": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec PodSpec",
        "3 status PodStatus",
    ),
    "core.v1.PodSpec": (
        "1 volumes []Volume m=name s=merge,retainKeys l=map k=name",
        "20 initContainers []Container m=name s=merge l=map k=name",
        "2 containers []Container m=name s=merge l=map k=name",
        "34 ephemeralContainers []EphemeralContainer m=name s=merge l=map k=name",
        "3 restartPolicy string",
        "4 terminationGracePeriodSeconds int64 ptr",
        "5 activeDeadlineSeconds int64 ptr",
        "6 dnsPolicy string",
        "7 nodeSelector {}string mt=atomic",
        "8 serviceAccountName string",
        "9 serviceAccount string",
        "21 automountServiceAccountToken bool ptr",
        "10 nodeName string",
        "11 hostNetwork bool",
        "12 hostPID bool",
        "13 hostIPC bool",
        "27 shareProcessNamespace bool ptr",
        "14 securityContext PodSecurityContext ptr",
        "15 imagePullSecrets []LocalObjectReference m=name s=merge l=map k=name",
        "16 hostname string",
        "17 subdomain string",
        "18 affinity Affinity ptr",
        "19 schedulerName string",
        "22 tolerations []Toleration l=atomic",
        "23 hostAliases []HostAlias m=ip s=merge l=map k=ip",
        "24 priorityClassName string",
        "25 priority int32 ptr",
        "26 dnsConfig PodDNSConfig ptr",
        "28 readinessGates []PodReadinessGate l=atomic",
        "29 runtimeClassName string ptr",
        "30 enableServiceLinks bool ptr",
        "31 preemptionPolicy string ptr",
        "32 overhead {}resource.Quantity",
        "33 topologySpreadConstraints []TopologySpreadConstraint m=topologyKey s=merge l=map k=topologyKey,whenUnsatisfiable",  # noqa: E501
        "35 setHostnameAsFQDN bool ptr",
        "36 os PodOS ptr",
        "37 hostUsers bool ptr",
        "38 schedulingGates []PodSchedulingGate m=name s=merge l=map k=name",
        "39 resourceClaims []PodResourceClaim m=name s=merge,retainKeys l=map k=name",
        "40 resources ResourceRequirements ptr",
        "41 hostnameOverride string ptr",
        "43 schedulingGroup PodSchedulingGroup ptr",
        "44 evictionResponders []EvictionResponder m=name s=merge l=map k=name",
    ),
    "core.v1.Volume": (
        "1 name string",
        "2 volumeSource VolumeSource inline",
    ),
    "core.v1.VolumeSource": (
        "1 hostPath HostPathVolumeSource ptr",
        "2 emptyDir EmptyDirVolumeSource ptr",
        "3 gcePersistentDisk GCEPersistentDiskVolumeSource ptr",
        "4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource ptr",
        "5 gitRepo GitRepoVolumeSource ptr",
        "6 secret SecretVolumeSource ptr",
        "7 nfs NFSVolumeSource ptr",
        "8 iscsi ISCSIVolumeSource ptr",
        "9 glusterfs GlusterfsVolumeSource ptr",
        "10 persistentVolumeClaim PersistentVolumeClaimVolumeSource ptr",
        "11 rbd RBDVolumeSource ptr",
        "12 flexVolume FlexVolumeSource ptr",
        "13 cinder CinderVolumeSource ptr",
        "14 cephfs CephFSVolumeSource ptr",
        "15 flocker FlockerVolumeSource ptr",
        "16 downwardAPI DownwardAPIVolumeSource ptr",
        "17 fc FCVolumeSource ptr",
        "18 azureFile AzureFileVolumeSource ptr",
        "19 configMap ConfigMapVolumeSource ptr",
        "20 vsphereVolume VsphereVirtualDiskVolumeSource ptr",
        "21 quobyte QuobyteVolumeSource ptr",
        "22 azureDisk AzureDiskVolumeSource ptr",
        "23 photonPersistentDisk PhotonPersistentDiskVolumeSource ptr",
        "26 projected ProjectedVolumeSource ptr",
        "24 portworxVolume PortworxVolumeSource ptr",
        "25 scaleIO ScaleIOVolumeSource ptr",
        "27 storageos StorageOSVolumeSource ptr",
        "28 csi CSIVolumeSource ptr",
        "29 ephemeral EphemeralVolumeSource ptr",
        "30 image ImageVolumeSource ptr",
    ),
    "core.v1.HostPathVolumeSource": (
        "1 path string",
        "2 type string ptr",
    ),
    "core.v1.EmptyDirVolumeSource": (
        "1 medium string",
        "2 sizeLimit resource.Quantity ptr",
        "3 mode int32 ptr",
    ),
    "core.v1.GCEPersistentDiskVolumeSource": (
        "1 pdName string",
        "2 fsType string",
        "3 partition int32",
        "4 readOnly bool",
    ),
    "core.v1.AWSElasticBlockStoreVolumeSource": (
        "1 volumeID string",
        "2 fsType string",
        "3 partition int32",
        "4 readOnly bool",
    ),
    "core.v1.GitRepoVolumeSource": (
        "1 repository string",
        "2 revision string",
        "3 directory string",
    ),
    "core.v1.SecretVolumeSource": (
        "1 secretName string",
        "2 items []KeyToPath l=atomic",
        "3 defaultMode int32 ptr",
        "4 optional bool ptr",
        "5 defaultUser int64 ptr",
    ),
    "core.v1.KeyToPath": (
        "1 key string",
        "2 path string",
        "3 mode int32 ptr",
        "4 user int64 ptr",
    ),
    "core.v1.NFSVolumeSource": (
        "1 server string",
        "2 path string",
        "3 readOnly bool",
    ),
    "core.v1.ISCSIVolumeSource": (
        "1 targetPortal string",
        "2 iqn string",
        "3 lun int32",
        "4 iscsiInterface string",
        "5 fsType string",
        "6 readOnly bool",
        "7 portals []string l=atomic",
        "8 chapAuthDiscovery bool",
        "11 chapAuthSession bool",
        "10 secretRef LocalObjectReference ptr",
        "12 initiatorName string ptr",
    ),
    "core.v1.LocalObjectReference": ("1 name string",),
    "core.v1.GlusterfsVolumeSource": (
        "1 endpoints string",
        "2 path string",
        "3 readOnly bool",
    ),
    "core.v1.PersistentVolumeClaimVolumeSource": (
        "1 claimName string",
        "2 readOnly bool",
    ),
    "core.v1.RBDVolumeSource": (
        "1 monitors []string l=atomic",
        "2 image string",
        "3 fsType string",
        "4 pool string",
        "5 user string",
        "6 keyring string",
        "7 secretRef LocalObjectReference ptr",
        "8 readOnly bool",
    ),
    "core.v1.FlexVolumeSource": (
        "1 driver string",
        "2 fsType string",
        "3 secretRef LocalObjectReference ptr",
        "4 readOnly bool",
        "5 options {}string",
    ),
    "core.v1.CinderVolumeSource": (
        "1 volumeID string",
        "2 fsType string",
        "3 readOnly bool",
        "4 secretRef LocalObjectReference ptr",
    ),
    "core.v1.CephFSVolumeSource": (
        "1 monitors []string l=atomic",
        "2 path string",
        "3 user string",
        "4 secretFile string",
        "5 secretRef LocalObjectReference ptr",
        "6 readOnly bool",
    ),
    "core.v1.FlockerVolumeSource": (
        "1 datasetName string",
        "2 datasetUUID string",
    ),
    "core.v1.DownwardAPIVolumeSource": (
        "1 items []DownwardAPIVolumeFile l=atomic",
        "2 defaultMode int32 ptr",
        "3 defaultUser int64 ptr",
    ),
    "core.v1.DownwardAPIVolumeFile": (
        "1 path string",
        "2 fieldRef ObjectFieldSelector ptr",
        "3 resourceFieldRef ResourceFieldSelector ptr",
        "4 mode int32 ptr",
        "5 user int64 ptr",
    ),
    "core.v1.ObjectFieldSelector": (
        "1 apiVersion string",
        "2 fieldPath string",
    ),
    "core.v1.ResourceFieldSelector": (
        "1 containerName string",
        "2 resource string",
        "3 divisor resource.Quantity",
    ),
    "core.v1.FCVolumeSource": (
        "1 targetWWNs []string l=atomic",
        "2 lun int32 ptr",
        "3 fsType string",
        "4 readOnly bool",
        "5 wwids []string l=atomic",
    ),
    "core.v1.AzureFileVolumeSource": (
        "1 secretName string",
        "2 shareName string",
        "3 readOnly bool",
    ),
    "core.v1.ConfigMapVolumeSource": (
        "1 localObjectReference LocalObjectReference inline",
        "2 items []KeyToPath l=atomic",
        "3 defaultMode int32 ptr",
        "4 optional bool ptr",
        "5 defaultUser int64 ptr",
    ),
    "core.v1.VsphereVirtualDiskVolumeSource": (
        "1 volumePath string",
        "2 fsType string",
        "3 storagePolicyName string",
        "4 storagePolicyID string",
    ),
    "core.v1.QuobyteVolumeSource": (
        "1 registry string",
        "2 volume string",
        "3 readOnly bool",
        "4 user string",
        "5 group string",
        "6 tenant string",
    ),
    "core.v1.AzureDiskVolumeSource": (
        "1 diskName string",
        "2 diskURI string",
        "3 cachingMode string ptr",
        "4 fsType string ptr",
        "5 readOnly bool ptr",
        "6 kind string ptr",
    ),
    "core.v1.PhotonPersistentDiskVolumeSource": (
        "1 pdID string",
        "2 fsType string",
    ),
    "core.v1.ProjectedVolumeSource": (
        "1 sources []VolumeProjection l=atomic",
        "2 defaultMode int32 ptr",
        "3 defaultUser int64 ptr",
    ),
    "core.v1.VolumeProjection": (
        "1 secret SecretProjection ptr",
        "2 downwardAPI DownwardAPIProjection ptr",
        "3 configMap ConfigMapProjection ptr",
        "4 serviceAccountToken ServiceAccountTokenProjection ptr",
        "5 clusterTrustBundle ClusterTrustBundleProjection ptr",
        "6 podCertificate PodCertificateProjection ptr",
    ),
    "core.v1.SecretProjection": (
        "1 localObjectReference LocalObjectReference inline",
        "2 items []KeyToPath l=atomic",
        "4 optional bool ptr",
    ),
    "core.v1.DownwardAPIProjection": ("1 items []DownwardAPIVolumeFile l=atomic",),
    "core.v1.ConfigMapProjection": (
        "1 localObjectReference LocalObjectReference inline",
        "2 items []KeyToPath l=atomic",
        "4 optional bool ptr",
    ),
    "core.v1.ServiceAccountTokenProjection": (
        "1 audience string",
        "2 expirationSeconds int64 ptr",
        "3 path string",
        "4 user int64 ptr",
    ),
    "core.v1.ClusterTrustBundleProjection": (
        "1 name string ptr",
        "2 signerName string ptr",
        "3 labelSelector meta.v1.LabelSelector ptr",
        "5 optional bool ptr",
        "4 path string",
        "6 user int64 ptr",
    ),
    "meta.v1.LabelSelector": (
        "1 matchLabels {}string",
        "2 matchExpressions []LabelSelectorRequirement l=atomic",
    ),
    "meta.v1.LabelSelectorRequirement": (
        "1 key string",
        "2 operator string",
        "3 values []string l=atomic",
    ),
    "core.v1.PodCertificateProjection": (
        "1 signerName string",
        "2 keyType string",
        "3 maxExpirationSeconds int32 ptr",
        "4 credentialBundlePath string",
        "5 keyPath string",
        "6 certificateChainPath string",
        "7 userAnnotations {}string",
        "8 user int64 ptr",
    ),
    "core.v1.PortworxVolumeSource": (
        "1 volumeID string",
        "2 fsType string",
        "3 readOnly bool",
    ),
    "core.v1.ScaleIOVolumeSource": (
        "1 gateway string",
        "2 system string",
        "3 secretRef LocalObjectReference ptr",
        "4 sslEnabled bool",
        "5 protectionDomain string",
        "6 storagePool string",
        "7 storageMode string",
        "8 volumeName string",
        "9 fsType string",
        "10 readOnly bool",
    ),
    "core.v1.StorageOSVolumeSource": (
        "1 volumeName string",
        "2 volumeNamespace string",
        "3 fsType string",
        "4 readOnly bool",
        "5 secretRef LocalObjectReference ptr",
    ),
    "core.v1.CSIVolumeSource": (
        "1 driver string",
        "2 readOnly bool ptr",
        "3 fsType string ptr",
        "4 volumeAttributes {}string",
        "5 nodePublishSecretRef LocalObjectReference ptr",
    ),
    "core.v1.EphemeralVolumeSource": ("1 volumeClaimTemplate PersistentVolumeClaimTemplate ptr",),
    "core.v1.PersistentVolumeClaimTemplate": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec PersistentVolumeClaimSpec",
    ),
    "core.v1.PersistentVolumeClaimSpec": (
        "1 accessModes []string l=atomic",
        "4 selector meta.v1.LabelSelector ptr",
        "2 resources VolumeResourceRequirements",
        "3 volumeName string",
        "5 storageClassName string ptr",
        "6 volumeMode string ptr",
        "7 dataSource TypedLocalObjectReference ptr",
        "8 dataSourceRef TypedObjectReference ptr",
        "9 volumeAttributesClassName string ptr",
    ),
    "core.v1.VolumeResourceRequirements": (
        "1 limits {}resource.Quantity",
        "2 requests {}resource.Quantity",
    ),
    "core.v1.TypedLocalObjectReference": (
        "1 apiGroup string ptr",
        "2 kind string",
        "3 name string",
    ),
    "core.v1.TypedObjectReference": (
        "1 apiGroup string ptr",
        "2 kind string",
        "3 name string",
        "4 namespace string ptr",
    ),
    "core.v1.ImageVolumeSource": (
        "1 reference string",
        "2 pullPolicy string",
    ),
    "core.v1.Container": (
        "1 name string",
        "2 image string",
        "3 command []string l=atomic",
        "4 args []string l=atomic",
        "5 workingDir string",
        "6 ports []ContainerPort m=containerPort s=merge l=map k=containerPort,protocol",
        "19 envFrom []EnvFromSource l=atomic",
        "7 env []EnvVar m=name s=merge l=map k=name",
        "8 resources ResourceRequirements",
        "23 resizePolicy []ContainerResizePolicy l=atomic",
        "24 restartPolicy string ptr",
        "25 restartPolicyRules []ContainerRestartRule l=atomic",
        "9 volumeMounts []VolumeMount m=mountPath s=merge l=map k=mountPath",
        "21 volumeDevices []VolumeDevice m=devicePath s=merge l=map k=devicePath",
        "10 livenessProbe Probe ptr",
        "11 readinessProbe Probe ptr",
        "22 startupProbe Probe ptr",
        "12 lifecycle Lifecycle ptr",
        "13 terminationMessagePath string",
        "20 terminationMessagePolicy string",
        "14 imagePullPolicy string",
        "15 securityContext SecurityContext ptr",
        "16 stdin bool",
        "17 stdinOnce bool",
        "18 tty bool",
    ),
    "core.v1.ContainerPort": (
        "1 name string",
        "2 hostPort int32",
        "3 containerPort int32",
        "4 protocol string",
        "5 hostIP string",
    ),
    "core.v1.EnvFromSource": (
        "1 prefix string",
        "2 configMapRef ConfigMapEnvSource ptr",
        "3 secretRef SecretEnvSource ptr",
    ),
    "core.v1.ConfigMapEnvSource": (
        "1 localObjectReference LocalObjectReference inline",
        "2 optional bool ptr",
    ),
    "core.v1.SecretEnvSource": (
        "1 localObjectReference LocalObjectReference inline",
        "2 optional bool ptr",
    ),
    "core.v1.EnvVar": (
        "1 name string",
        "2 value string",
        "3 valueFrom EnvVarSource ptr",
    ),
    "core.v1.EnvVarSource": (
        "1 fieldRef ObjectFieldSelector ptr",
        "2 resourceFieldRef ResourceFieldSelector ptr",
        "3 configMapKeyRef ConfigMapKeySelector ptr",
        "4 secretKeyRef SecretKeySelector ptr",
        "5 fileKeyRef FileKeySelector ptr",
    ),
    "core.v1.ConfigMapKeySelector": (
        "1 localObjectReference LocalObjectReference inline",
        "2 key string",
        "3 optional bool ptr",
    ),
    "core.v1.SecretKeySelector": (
        "1 localObjectReference LocalObjectReference inline",
        "2 key string",
        "3 optional bool ptr",
    ),
    "core.v1.FileKeySelector": (
        "1 volumeName string",
        "2 path string",
        "3 key string",
        "4 optional bool ptr",
    ),
    "core.v1.ResourceRequirements": (
        "1 limits {}resource.Quantity",
        "2 requests {}resource.Quantity",
        "3 claims []ResourceClaim l=map k=name",
    ),
    "core.v1.ResourceClaim": (
        "1 name string",
        "2 request string",
    ),
    "core.v1.ContainerResizePolicy": (
        "1 resourceName string",
        "2 restartPolicy string",
    ),
    "core.v1.ContainerRestartRule": (
        "1 action string",
        "2 exitCodes ContainerRestartRuleOnExitCodes ptr",
    ),
    "core.v1.ContainerRestartRuleOnExitCodes": (
        "1 operator string",
        "2 values []int32 l=set",
    ),
    "core.v1.VolumeMount": (
        "1 name string",
        "2 readOnly bool",
        "7 recursiveReadOnly string ptr",
        "3 mountPath string",
        "4 subPath string",
        "5 mountPropagation string ptr",
        "6 subPathExpr string",
        "8 bindMountOptions []string l=set",
    ),
    "core.v1.VolumeDevice": (
        "1 name string",
        "2 devicePath string",
    ),
    "core.v1.Probe": (
        "1 handler ProbeHandler inline",
        "2 initialDelaySeconds int32",
        "3 timeoutSeconds int32",
        "4 periodSeconds int32",
        "5 successThreshold int32",
        "6 failureThreshold int32",
        "7 terminationGracePeriodSeconds int64 ptr",
    ),
    "core.v1.ProbeHandler": (
        "1 exec ExecAction ptr",
        "2 httpGet HTTPGetAction ptr",
        "3 tcpSocket TCPSocketAction ptr",
        "4 grpc GRPCAction ptr",
    ),
    "core.v1.ExecAction": ("1 command []string l=atomic",),
    "core.v1.HTTPGetAction": (
        "1 path string",
        "2 port intstr.IntOrString",
        "3 host string",
        "4 scheme string",
        "5 httpHeaders []HTTPHeader l=atomic",
        "6 protocol string ptr",
    ),
    "core.v1.HTTPHeader": (
        "1 name string",
        "2 value string",
    ),
    "core.v1.TCPSocketAction": (
        "1 port intstr.IntOrString",
        "2 host string",
    ),
    "core.v1.GRPCAction": (
        "1 port int32",
        "2 service string ptr",
        "3 mode string ptr",
    ),
    "core.v1.Lifecycle": (
        "1 postStart LifecycleHandler ptr",
        "2 preStop LifecycleHandler ptr",
        "3 stopSignal string ptr",
    ),
    "core.v1.LifecycleHandler": (
        "1 exec ExecAction ptr",
        "2 httpGet HTTPGetAction ptr",
        "3 tcpSocket TCPSocketAction ptr",
        "4 sleep SleepAction ptr",
    ),
    "core.v1.SleepAction": ("1 seconds int64",),
    "core.v1.SecurityContext": (
        "1 capabilities Capabilities ptr",
        "2 privileged bool ptr",
        "3 seLinuxOptions SELinuxOptions ptr",
        "10 windowsOptions WindowsSecurityContextOptions ptr",
        "4 runAsUser int64 ptr",
        "8 runAsGroup int64 ptr",
        "5 runAsNonRoot bool ptr",
        "6 readOnlyRootFilesystem bool ptr",
        "7 allowPrivilegeEscalation bool ptr",
        "9 procMount string ptr",
        "11 seccompProfile SeccompProfile ptr",
        "12 appArmorProfile AppArmorProfile ptr",
    ),
    "core.v1.Capabilities": (
        "1 add []string l=atomic",
        "2 drop []string l=atomic",
    ),
    "core.v1.SELinuxOptions": (
        "1 user string",
        "2 role string",
        "3 type string",
        "4 level string",
    ),
    "core.v1.WindowsSecurityContextOptions": (
        "1 gmsaCredentialSpecName string ptr",
        "2 gmsaCredentialSpec string ptr",
        "3 runAsUserName string ptr",
        "4 hostProcess bool ptr",
    ),
    "core.v1.SeccompProfile": (
        "1 type string",
        "2 localhostProfile string ptr",
    ),
    "core.v1.AppArmorProfile": (
        "1 type string",
        "2 localhostProfile string ptr",
    ),
    "core.v1.EphemeralContainer": (
        "1 ephemeralContainerCommon EphemeralContainerCommon inline",
        "2 targetContainerName string",
    ),
    "core.v1.EphemeralContainerCommon": (
        "1 name string",
        "2 image string",
        "3 command []string l=atomic",
        "4 args []string l=atomic",
        "5 workingDir string",
        "6 ports []ContainerPort m=containerPort s=merge l=map k=containerPort,protocol",
        "19 envFrom []EnvFromSource l=atomic",
        "7 env []EnvVar m=name s=merge l=map k=name",
        "8 resources ResourceRequirements",
        "23 resizePolicy []ContainerResizePolicy l=atomic",
        "24 restartPolicy string ptr",
        "25 restartPolicyRules []ContainerRestartRule l=atomic",
        "9 volumeMounts []VolumeMount m=mountPath s=merge l=map k=mountPath",
        "21 volumeDevices []VolumeDevice m=devicePath s=merge l=map k=devicePath",
        "10 livenessProbe Probe ptr",
        "11 readinessProbe Probe ptr",
        "22 startupProbe Probe ptr",
        "12 lifecycle Lifecycle ptr",
        "13 terminationMessagePath string",
        "20 terminationMessagePolicy string",
        "14 imagePullPolicy string",
        "15 securityContext SecurityContext ptr",
        "16 stdin bool",
        "17 stdinOnce bool",
        "18 tty bool",
    ),
    "core.v1.PodSecurityContext": (
        "1 seLinuxOptions SELinuxOptions ptr",
        "8 windowsOptions WindowsSecurityContextOptions ptr",
        "2 runAsUser int64 ptr",
        "6 runAsGroup int64 ptr",
        "3 runAsNonRoot bool ptr",
        "4 supplementalGroups []int64 l=atomic",
        "12 supplementalGroupsPolicy string ptr",
        "5 fsGroup int64 ptr",
        "7 sysctls []Sysctl l=atomic",
        "9 fsGroupChangePolicy string ptr",
        "10 seccompProfile SeccompProfile ptr",
        "11 appArmorProfile AppArmorProfile ptr",
        "13 seLinuxChangePolicy string ptr",
    ),
    "core.v1.Sysctl": (
        "1 name string",
        "2 value string",
    ),
    "core.v1.Affinity": (
        "1 nodeAffinity NodeAffinity ptr",
        "2 podAffinity PodAffinity ptr",
        "3 podAntiAffinity PodAntiAffinity ptr",
    ),
    "core.v1.NodeAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector ptr",
        "2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm l=atomic",
    ),
    "core.v1.NodeSelector": ("1 nodeSelectorTerms []NodeSelectorTerm l=atomic",),
    "core.v1.NodeSelectorTerm": (
        "1 matchExpressions []NodeSelectorRequirement l=atomic",
        "2 matchFields []NodeSelectorRequirement l=atomic",
    ),
    "core.v1.NodeSelectorRequirement": (
        "1 key string",
        "2 operator string",
        "3 values []string l=atomic",
    ),
    "core.v1.PreferredSchedulingTerm": (
        "1 weight int32",
        "2 preference NodeSelectorTerm",
    ),
    "core.v1.PodAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm l=atomic",
        "2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm l=atomic",
    ),
    "core.v1.PodAffinityTerm": (
        "1 labelSelector meta.v1.LabelSelector ptr",
        "2 namespaces []string l=atomic",
        "3 topologyKey string",
        "4 namespaceSelector meta.v1.LabelSelector ptr",
        "5 matchLabelKeys []string l=atomic",
        "6 mismatchLabelKeys []string l=atomic",
    ),
    "core.v1.WeightedPodAffinityTerm": (
        "1 weight int32",
        "2 podAffinityTerm PodAffinityTerm",
    ),
    "core.v1.PodAntiAffinity": (
        "1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm l=atomic",
        "2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm l=atomic",
    ),
    "core.v1.Toleration": (
        "1 key string",
        "2 operator string",
        "3 value string",
        "4 effect string",
        "5 tolerationSeconds int64 ptr",
    ),
    "core.v1.HostAlias": (
        "1 ip string",
        "2 hostnames []string l=atomic",
    ),
    "core.v1.PodDNSConfig": (
        "1 nameservers []string l=atomic",
        "2 searches []string l=atomic",
        "3 options []PodDNSConfigOption l=atomic",
    ),
    "core.v1.PodDNSConfigOption": (
        "1 name string",
        "2 value string ptr",
    ),
    "core.v1.PodReadinessGate": ("1 conditionType string",),
    "core.v1.TopologySpreadConstraint": (
        "1 maxSkew int32",
        "2 topologyKey string",
        "3 whenUnsatisfiable string",
        "4 labelSelector meta.v1.LabelSelector ptr",
        "5 minDomains int32 ptr",
        "6 nodeAffinityPolicy string ptr",
        "7 nodeTaintsPolicy string ptr",
        "8 matchLabelKeys []string l=atomic",
    ),
    "core.v1.PodOS": ("1 name string",),
    "core.v1.PodSchedulingGate": ("1 name string",),
    "core.v1.PodResourceClaim": (
        "1 name string",
        "3 resourceClaimName string ptr",
        "4 resourceClaimTemplateName string ptr",
    ),
    "core.v1.PodSchedulingGroup": ("1 podGroupName string ptr",),
    "core.v1.EvictionResponder": (
        "1 name string",
        "2 priority int32 ptr",
    ),
    "core.v1.PodStatus": (
        "17 observedGeneration int64",
        "1 phase string",
        "2 conditions []PodCondition m=type s=merge l=map k=type",
        "3 message string",
        "4 reason string",
        "11 nominatedNodeName string",
        "5 hostIP string",
        "16 hostIPs []HostIP m=ip s=merge l=atomic",
        "6 podIP string",
        "12 podIPs []PodIP m=ip s=merge l=map k=ip",
        "7 startTime meta.v1.Time ptr",
        "10 initContainerStatuses []ContainerStatus l=atomic",
        "8 containerStatuses []ContainerStatus l=atomic",
        "9 qosClass string",
        "13 ephemeralContainerStatuses []ContainerStatus l=atomic",
        "14 resize string",
        "15 resourceClaimStatuses []PodResourceClaimStatus m=name s=merge,retainKeys l=map k=name",
        "18 extendedResourceClaimStatus PodExtendedResourceClaimStatus ptr",
        "19 allocatedResources {}resource.Quantity",
        "20 resources ResourceRequirements ptr",
        "21 nodeAllocatableResourceClaimStatuses []NodeAllocatableResourceClaimStatus m=resourceClaimName s=merge l=map k=resourceClaimName",  # noqa: E501
        "22 volumeHealth []PodVolumeHealth l=map k=name",
    ),
    "core.v1.PodCondition": (
        "1 type string",
        "7 observedGeneration int64",
        "2 status string",
        "3 lastProbeTime meta.v1.Time",
        "4 lastTransitionTime meta.v1.Time",
        "5 reason string",
        "6 message string",
    ),
    "core.v1.HostIP": ("1 ip string",),
    "core.v1.PodIP": ("1 ip string",),
    "core.v1.ContainerStatus": (
        "1 name string",
        "2 state ContainerState",
        "3 lastState ContainerState",
        "4 ready bool",
        "5 restartCount int32",
        "6 image string",
        "7 imageID string",
        "8 containerID string",
        "9 started bool ptr",
        "10 allocatedResources {}resource.Quantity",
        "11 resources ResourceRequirements ptr",
        "12 volumeMounts []VolumeMountStatus m=mountPath s=merge l=map k=mountPath",
        "13 user ContainerUser ptr",
        "14 allocatedResourcesStatus []ResourceStatus m=name s=merge l=map k=name",
        "15 stopSignal string ptr",
    ),
    "core.v1.ContainerState": (
        "1 waiting ContainerStateWaiting ptr",
        "2 running ContainerStateRunning ptr",
        "3 terminated ContainerStateTerminated ptr",
    ),
    "core.v1.ContainerStateWaiting": (
        "1 reason string",
        "2 message string",
    ),
    "core.v1.ContainerStateRunning": ("1 startedAt meta.v1.Time",),
    "core.v1.ContainerStateTerminated": (
        "1 exitCode int32",
        "2 signal int32",
        "3 reason string",
        "4 message string",
        "5 startedAt meta.v1.Time",
        "6 finishedAt meta.v1.Time",
        "7 containerID string",
    ),
    "core.v1.VolumeMountStatus": (
        "1 name string",
        "2 mountPath string",
        "3 readOnly bool",
        "4 recursiveReadOnly string ptr",
        "5 volumeStatus VolumeStatus ptr",
    ),
    "core.v1.VolumeStatus": ("1 image ImageVolumeStatus ptr",),
    "core.v1.ImageVolumeStatus": ("1 imageRef string",),
    "core.v1.ContainerUser": ("1 linux LinuxContainerUser ptr",),
    "core.v1.LinuxContainerUser": (
        "1 uid int64",
        "2 gid int64",
        "3 supplementalGroups []int64 l=atomic",
    ),
    "core.v1.ResourceStatus": (
        "1 name string",
        "2 resources []ResourceHealth l=map k=resourceID",
    ),
    "core.v1.ResourceHealth": (
        "1 resourceID string",
        "2 health string",
        "6 message string ptr",
    ),
    "core.v1.PodResourceClaimStatus": (
        "1 name string",
        "2 resourceClaimName string ptr",
    ),
    "core.v1.PodExtendedResourceClaimStatus": (
        "1 requestMappings []ContainerExtendedResourceRequest l=atomic",
        "2 resourceClaimName string",
    ),
    "core.v1.ContainerExtendedResourceRequest": (
        "1 containerName string",
        "2 resourceName string",
        "3 requestName string",
    ),
    "core.v1.NodeAllocatableResourceClaimStatus": (
        "1 resourceClaimName string",
        "2 containers []string l=set",
        "4 mapping []NodeAllocatableMappedResources m=name s=merge l=map k=name",
        "5 overhead []NodeAllocatableOverheadResources m=name s=merge l=map k=name",
    ),
    "core.v1.NodeAllocatableMappedResources": (
        "1 name string",
        "2 quantity resource.Quantity ptr",
    ),
    "core.v1.NodeAllocatableOverheadResources": (
        "1 name string",
        "2 perPod resource.Quantity ptr",
        "3 perContainer resource.Quantity ptr",
    ),
    "core.v1.PodVolumeHealth": (
        "1 name string",
        "2 healthConditions []VolumeHealthCondition m=status s=merge l=map k=status,reason",
        "3 lastTransitionTime meta.v1.Time",
    ),
    "core.v1.VolumeHealthCondition": (
        "1 status string",
        "2 reason string",
        "3 message string",
    ),
    "core.v1.ServiceAccount": (
        "1 metadata meta.v1.ObjectMeta",
        "2 secrets []ObjectReference m=name s=merge l=map k=name",
        "3 imagePullSecrets []LocalObjectReference l=atomic",
        "4 automountServiceAccountToken bool ptr",
    ),
    "core.v1.ObjectReference": (
        "1 kind string",
        "2 namespace string",
        "3 name string",
        "4 uid string",
        "5 apiVersion string",
        "6 resourceVersion string",
        "7 fieldPath string",
    ),
    "core.v1.ConfigMap": (
        "1 metadata meta.v1.ObjectMeta",
        "4 immutable bool ptr",
        "2 data {}string",
        "3 binaryData {}bytes",
    ),
    "core.v1.Secret": (
        "1 metadata meta.v1.ObjectMeta",
        "5 immutable bool ptr",
        "2 data {}bytes",
        "4 stringData {}string",
        "3 type string",
    ),
    "core.v1.Event": (
        "1 metadata meta.v1.ObjectMeta",
        "2 involvedObject ObjectReference",
        "3 reason string",
        "4 message string",
        "5 source EventSource",
        "6 firstTimestamp meta.v1.Time",
        "7 lastTimestamp meta.v1.Time",
        "8 count int32",
        "9 type string",
        "10 eventTime meta.v1.MicroTime",
        "11 series EventSeries ptr",
        "12 action string",
        "13 related ObjectReference ptr",
        "14 reportingComponent string",
        "15 reportingInstance string",
    ),
    "core.v1.EventSource": (
        "1 component string",
        "2 host string",
    ),
    "core.v1.EventSeries": (
        "1 count int32",
        "2 lastObservedTime meta.v1.MicroTime",
    ),
    "core.v1.Binding": (
        "1 metadata meta.v1.ObjectMeta",
        "2 target ObjectReference",
    ),
    "authentication.v1.TokenRequest": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec TokenRequestSpec",
        "3 status TokenRequestStatus",
    ),
    "authentication.v1.TokenRequestSpec": (
        "1 audiences []string l=atomic",
        "4 expirationSeconds int64 ptr",
        "3 boundObjectRef BoundObjectReference ptr",
        "5 attestations {}AttestationValue",
    ),
    "authentication.v1.BoundObjectReference": (
        "1 kind string",
        "2 apiVersion string",
        "3 name string",
        "4 uid string",
    ),
    "authentication.v1.AttestationValue": LIST,
    "authentication.v1.TokenRequestStatus": (
        "1 token string",
        "2 expirationTimestamp meta.v1.Time",
    ),
    "authentication.v1.TokenReview": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec TokenReviewSpec",
        "3 status TokenReviewStatus",
    ),
    "authentication.v1.TokenReviewSpec": (
        "1 token string",
        "2 audiences []string l=atomic",
    ),
    "authentication.v1.TokenReviewStatus": (
        "1 authenticated bool",
        "2 user UserInfo",
        "4 audiences []string l=atomic",
        "3 error string",
    ),
    "authentication.v1.UserInfo": (
        "1 username string",
        "2 uid string",
        "3 groups []string l=atomic",
        "4 extra {}ExtraValue",
    ),
    "authentication.v1.ExtraValue": LIST,
    "authentication.v1.SelfSubjectReview": (
        "1 metadata meta.v1.ObjectMeta",
        "2 status SelfSubjectReviewStatus",
    ),
    "authentication.v1.SelfSubjectReviewStatus": ("1 userInfo UserInfo",),
    "authorization.v1.SubjectAccessReview": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec SubjectAccessReviewSpec",
        "3 status SubjectAccessReviewStatus",
    ),
    "authorization.v1.SubjectAccessReviewSpec": (
        "1 resourceAttributes ResourceAttributes ptr",
        "2 nonResourceAttributes NonResourceAttributes ptr",
        "3 user string",
        "4 groups []string l=atomic",
        "5 extra {}ExtraValue",
        "6 uid string",
    ),
    "authorization.v1.ResourceAttributes": (
        "1 namespace string",
        "2 verb string",
        "3 group string",
        "4 version string",
        "5 resource string",
        "6 subresource string",
        "7 name string",
        "8 fieldSelector FieldSelectorAttributes ptr",
        "9 labelSelector LabelSelectorAttributes ptr",
    ),
    "authorization.v1.FieldSelectorAttributes": (
        "1 rawSelector string",
        "2 requirements []meta.v1.FieldSelectorRequirement l=atomic",
    ),
    "meta.v1.FieldSelectorRequirement": (
        "1 key string",
        "2 operator string",
        "3 values []string l=atomic",
    ),
    "authorization.v1.LabelSelectorAttributes": (
        "1 rawSelector string",
        "2 requirements []meta.v1.LabelSelectorRequirement l=atomic",
    ),
    "authorization.v1.NonResourceAttributes": (
        "1 path string",
        "2 verb string",
    ),
    "authorization.v1.ExtraValue": LIST,
    "authorization.v1.SubjectAccessReviewStatus": (
        "1 allowed bool",
        "4 denied bool",
        "2 reason string",
        "3 evaluationError string",
    ),
    "authorization.v1.SelfSubjectAccessReview": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec SelfSubjectAccessReviewSpec",
        "3 status SubjectAccessReviewStatus",
    ),
    "authorization.v1.SelfSubjectAccessReviewSpec": (
        "1 resourceAttributes ResourceAttributes ptr",
        "2 nonResourceAttributes NonResourceAttributes ptr",
    ),
    "authorization.v1.LocalSubjectAccessReview": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec SubjectAccessReviewSpec",
        "3 status SubjectAccessReviewStatus",
    ),
    "authorization.v1.SelfSubjectRulesReview": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec SelfSubjectRulesReviewSpec",
        "3 status SubjectRulesReviewStatus",
    ),
    "authorization.v1.SelfSubjectRulesReviewSpec": ("1 namespace string",),
    "authorization.v1.SubjectRulesReviewStatus": (
        "1 resourceRules []ResourceRule l=atomic",
        "2 nonResourceRules []NonResourceRule l=atomic",
        "3 incomplete bool",
        "4 evaluationError string",
    ),
    "authorization.v1.ResourceRule": (
        "1 verbs []string l=atomic",
        "2 apiGroups []string l=atomic",
        "3 resources []string l=atomic",
        "4 resourceNames []string l=atomic",
    ),
    "authorization.v1.NonResourceRule": (
        "1 verbs []string l=atomic",
        "2 nonResourceURLs []string l=atomic",
    ),
    "rbac.v1.Role": (
        "1 metadata meta.v1.ObjectMeta",
        "2 rules []PolicyRule l=atomic",
    ),
    "rbac.v1.PolicyRule": (
        "1 verbs []string l=atomic",
        "2 apiGroups []string l=atomic",
        "3 resources []string l=atomic",
        "4 resourceNames []string l=atomic",
        "5 nonResourceURLs []string l=atomic",
    ),
    "rbac.v1.ClusterRole": (
        "1 metadata meta.v1.ObjectMeta",
        "2 rules []PolicyRule l=atomic",
        "3 aggregationRule AggregationRule ptr",
    ),
    "rbac.v1.AggregationRule": ("1 clusterRoleSelectors []meta.v1.LabelSelector l=atomic",),
    "rbac.v1.RoleBinding": (
        "1 metadata meta.v1.ObjectMeta",
        "2 subjects []Subject l=atomic",
        "3 roleRef RoleRef",
    ),
    "rbac.v1.Subject": (
        "1 kind string",
        "2 apiGroup string",
        "3 name string",
        "4 namespace string",
    ),
    "rbac.v1.RoleRef": (
        "1 apiGroup string",
        "2 kind string",
        "3 name string",
    ),
    "rbac.v1.ClusterRoleBinding": (
        "1 metadata meta.v1.ObjectMeta",
        "2 subjects []Subject l=atomic",
        "3 roleRef RoleRef",
    ),
    "apps.v1.DaemonSet": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec DaemonSetSpec",
        "3 status DaemonSetStatus",
    ),
    "apps.v1.DaemonSetSpec": (
        "1 selector meta.v1.LabelSelector ptr",
        "2 template core.v1.PodTemplateSpec",
        "3 updateStrategy DaemonSetUpdateStrategy",
        "4 minReadySeconds int32",
        "6 revisionHistoryLimit int32 ptr",
    ),
    "core.v1.PodTemplateSpec": (
        "1 metadata meta.v1.ObjectMeta",
        "2 spec PodSpec",
    ),
    "apps.v1.DaemonSetUpdateStrategy": (
        "1 type string",
        "2 rollingUpdate RollingUpdateDaemonSet ptr",
    ),
    "apps.v1.RollingUpdateDaemonSet": (
        "1 maxUnavailable intstr.IntOrString ptr",
        "2 maxSurge intstr.IntOrString ptr",
    ),
    "apps.v1.DaemonSetStatus": (
        "1 currentNumberScheduled int32",
        "2 numberMisscheduled int32",
        "3 desiredNumberScheduled int32",
        "4 numberReady int32",
        "5 observedGeneration int64",
        "6 updatedNumberScheduled int32",
        "7 numberAvailable int32",
        "8 numberUnavailable int32",
        "9 collisionCount int32 ptr",
        "10 conditions []DaemonSetCondition m=type s=merge l=map k=type",
    ),
    "apps.v1.DaemonSetCondition": (
        "1 type string",
        "2 status string",
        "3 lastTransitionTime meta.v1.Time",
        "4 reason string",
        "5 message string",
    ),
    "policy.v1.Eviction": (
        "1 metadata meta.v1.ObjectMeta",
        "2 deleteOptions meta.v1.DeleteOptions ptr",
    ),
    "meta.v1.DeleteOptions": (
        "1 gracePeriodSeconds int64 ptr",
        "2 preconditions Preconditions ptr",
        "3 orphanDependents bool ptr",
        "4 propagationPolicy string ptr",
        "5 dryRun []string l=atomic",
        "6 ignoreStoreReadErrorWithClusterBreakingPotential bool ptr",
    ),
    "meta.v1.Preconditions": (
        "1 uid string ptr",
        "2 resourceVersion string ptr",
    ),
}
