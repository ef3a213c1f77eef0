// Command etcd is the upstream etcd server (go.etcd.io/etcd/server/v3, pinned in go.mod), built
// from the Go module proxy for the real-kube-apiserver test backend. Nothing here but the entry
// point: the server, its flags and its behaviour are upstream's.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
