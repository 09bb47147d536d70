// Command control-plane is a multi-call binary holding a real Kubernetes
// control plane: kube-apiserver, kube-controller-manager, kube-scheduler and
// etcd, each exactly as its upstream main() runs it.
//
// It dispatches on the base name of argv[0] (build.sh makes symlinks named
// after each component), or on argv[1] when invoked under its own name:
//
//	kube-apiserver --etcd-servers=...        (via symlink)
//	control-plane kube-apiserver --etcd-servers=...
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // CronJob time-zone support, as upstream's main packages do

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// cobraMain mirrors upstream cmd/<component>/<component>.go: build the
// command, run it through component-base's cli.Run, exit with its code.
func cobraMain(newCommand func() *cobra.Command) func() {
	return func() { os.Exit(cli.Run(newCommand())) }
}

var components = map[string]func(){
	"kube-apiserver":          cobraMain(apiserver.NewAPIServerCommand),
	"kube-controller-manager": cobraMain(controllermanager.NewControllerManagerCommand),
	"kube-scheduler":          cobraMain(func() *cobra.Command { return scheduler.NewSchedulerCommand() }),
	// etcdmain.Main parses args[1:] itself (upstream server/main.go passes os.Args).
	"etcd": func() { etcdmain.Main(os.Args) },
}

// parentPIDEnv names the process that started this component (the hybrid-e2e launcher).
const parentPIDEnv = "HYBRID_E2E_PARENT_PID"

// exitWithParent stops this component, as SIGTERM does, once the process named by
// HYBRID_E2E_PARENT_PID is no longer its parent: the launcher died, even by SIGKILL, and the
// component was reparented. So no control plane outlives the harness that started it.
// (PR_SET_PDEATHSIG would follow the launcher's forking thread, not its process.)
func exitWithParent() {
	want := os.Getenv(parentPIDEnv)
	if want == "" {
		return
	}
	go func() {
		for range time.Tick(time.Second) {
			if strconv.Itoa(os.Getppid()) != want {
				fmt.Fprintf(os.Stderr, "control-plane: parent %s is gone, stopping\n", want)
				_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
				time.Sleep(15 * time.Second)
				os.Exit(1)
			}
		}
	}()
}

func main() {
	exitWithParent()
	self := filepath.Base(os.Args[0])
	name := strings.TrimSuffix(self, ".exe")
	if _, ok := components[name]; !ok && len(os.Args) > 1 {
		// Invoked under the binary's own name: the component is argv[1].
		// Shift it into argv[0] so cobra (which reads os.Args[1:]) and
		// etcdmain see exactly the argv their upstream mains would.
		name = os.Args[1]
		os.Args = os.Args[1:]
	}
	run, ok := components[name]
	if !ok {
		names := make([]string, 0, len(components))
		for n := range components {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: %s COMPONENT [flags...]   (or run it via a symlink named COMPONENT)\ncomponents: %s\n",
			self, strings.Join(names, ", "))
		os.Exit(2)
	}
	run()
}
