//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKill9KeepsAcknowledgedWrites kills edgek with SIGKILL while clients write, starts it
// again on the same data dir, and checks that every write the apiserver acknowledged is there.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	ns := newNetns(t)
	s := newServer(t, ns, "--disable-agent")
	s.start()

	const writers = 4
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.kubectl("create", "configmap", name, "--from-literal=i="+name); err == nil {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	eventually(t, 60*time.Second, "20 acknowledged writes", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 20 {
			return fmt.Errorf("%d so far", len(acked))
		}
		return nil
	})
	s.kill9()
	close(stop)
	wg.Wait()
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))

	s.start()
	out := s.mustKubectl("get", "configmaps", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")
	have := map[string]bool{}
	for _, n := range strings.Fields(out) {
		have[n] = true
	}
	var lost []string
	for _, n := range acked {
		if !have[n] {
			lost = append(lost, n)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes lost after SIGKILL: %v", len(lost), len(acked), lost)
	}
	s.stop()
}
