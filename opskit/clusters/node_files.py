"""The real node's files: where each daemon keeps its state below the cluster's folder, and
the text of its configuration. Values only: nothing here starts a process or writes a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"  # the `kubernetes` Service: the apiserver's cert names it
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
BRIDGE = "opskit0"
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")  # Debian's containernetworking-plugins, upstream's
PAUSE_IMAGE = "localhost/gitops-lab/pause:3.10"
COREDNS_IMAGE_REPO = "localhost/gitops-lab/coredns"
SOCKET_MAX = 100  # a unix socket path holds at most 107 bytes; the shims append to it


@dataclass(frozen=True)
class NodeLayout:
    """Every path of the real node, below <cluster state>/node."""

    home: Path

    @property
    def containerd_root(self) -> Path:
        return self.home / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.home / "containerd" / "state"

    @property
    def socket(self) -> Path:
        return self.home / "containerd" / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.home / "containerd" / "config.toml"

    @property
    def kubelet_root(self) -> Path:
        return self.home / "kubelet"

    @property
    def kubelet_config(self) -> Path:
        return self.home / "etc" / "kubelet.yaml"

    @property
    def kube_proxy_config(self) -> Path:
        return self.home / "etc" / "kube-proxy.yaml"

    @property
    def pki(self) -> Path:
        return self.home / "pki"

    @property
    def cni_conf_dir(self) -> Path:
        return self.home / "cni" / "net.d"

    @property
    def cni_data(self) -> Path:
        return self.home / "cni" / "networks"

    @property
    def pod_logs(self) -> Path:
        return self.home / "pod-logs"

    @property
    def images(self) -> Path:
        return self.home / "images"

    @property
    def loaded(self) -> Path:
        """The images loaded into containerd by name, one a line (gone with the node)."""
        return self.home / "loaded-images.txt"

    @property
    def sysctls(self) -> Path:
        """The host settings as they were before the node started (restored at down)."""
        return self.home / "sysctls.json"

    def log(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.home / "run" / f"{name}.pid"


def containerd_toml(layout: NodeLayout) -> str:
    """containerd 2.x: everything below the node's folder, runc via the v2 shim, the CNI
    bridge, the locally built pause image; OOM score adjustments restricted (no
    CAP_SYS_RESOURCE here: without it every sandbox fails to start)."""
    bins = ", ".join(f"'{d}'" for d in CNI_BIN_DIRS)
    return f"""version = 3
root = '{layout.containerd_root}'
state = '{layout.containerd_state}'
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper']

[grpc]
  address = '{layout.socket}'

[ttrpc]
  address = '{layout.socket}.ttrpc'

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{PAUSE_IMAGE}'

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [{bins}]
    conf_dir = '{layout.cni_conf_dir}'
    max_conf_num = 1
"""


def cni_conflist(layout: NodeLayout) -> str:
    """A bridge with host-local addresses (kept below the node's folder) and port maps."""
    config = {
        "cniVersion": "1.0.0",
        "name": "opskit",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(layout.cni_data),
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def kubelet_yaml(layout: NodeLayout, ca_file: Path) -> str:
    """KubeletConfiguration: cgroup v1 allowed (this kernel's hierarchy), cgroupfs, webhook
    authn/authz against the cluster, a serving certificate the cluster CA signed."""
    return f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
address: 0.0.0.0
port: 10250
readOnlyPort: 0
healthzPort: 0
staticPodPath: ""
clusterDomain: {CLUSTER_DOMAIN}
clusterDNS: [{DNS_SERVICE_IP}]
resolvConf: /etc/resolv.conf
podLogsDir: {layout.pod_logs}
tlsCertFile: {layout.pki / "kubelet.crt"}
tlsPrivateKeyFile: {layout.pki / "kubelet.key"}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {ca_file}}}
authorization: {{mode: Webhook}}
containerRuntimeEndpoint: unix://{layout.socket}
imageServiceEndpoint: unix://{layout.socket}
podCIDR: {POD_CIDR}
maxPods: 60
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {{memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}}
nodeStatusReportFrequency: 10s
localStorageCapacityIsolation: true
"""


def kube_proxy_yaml(kubeconfig: Path, node: str, metrics_port: int) -> str:
    """kube-proxy in iptables mode; `kube-proxy --cleanup` removes what it made. Its
    metrics need a port (0 is refused): a free one."""
    return f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: {node}
clusterCIDR: {POD_CIDR}
clientConnection: {{kubeconfig: {kubeconfig}}}
metricsBindAddress: 127.0.0.1:{metrics_port}
healthzBindAddress: ""
conntrack: {{maxPerCore: 0}}
"""


COREDNS_CONFIG = f""".:53 {{
    errors
    health {{
       lameduck 2s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
    }}
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
}}
"""
