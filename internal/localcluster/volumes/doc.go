// Package volumes makes the volumes of the local cluster's pods, as a
// kubelet would: configMap, secret, downwardAPI, projected (with
// service-account tokens), emptyDir, hostPath and persistentVolumeClaim
// volumes as host directories, with the kubelet's file modes and fsGroup
// ownership; configMap and secret volumes are kept current while the pod
// runs. It also provisions the local storage class: a host directory per
// claim, on the node the scheduler picked.
package volumes
