package clusterdns

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// TTL is what answers say a client may cache them for: short, so a client
// that caches sees a replaced pod's new address within a second.
const TTL = 1

// Handler answers DNS queries from a table. It is safe for concurrent use;
// Set swaps the table.
type Handler struct {
	table atomic.Pointer[Table]
}

// Set makes t the table the handler answers from.
func (h *Handler) Set(t Table) { h.table.Store(&t) }

// ServeDNS implements dns.Handler. A name in the table gets its A records
// (and no AAAA: pods have IPv4 addresses only); any other name is
// NXDOMAIN: the local cluster has no upstream resolver.
func (h *Handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	var t Table
	if p := h.table.Load(); p != nil {
		t = *p
	}
	for _, q := range req.Question {
		addrs, ok := t.Lookup(q.Name)
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		if q.Qclass != dns.ClassINET || (q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY) {
			continue
		}
		for _, a := range addrs {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL},
				A:   net.IP(a.AsSlice()),
			})
		}
	}
	_ = w.WriteMsg(m)
}

// Server serves the cluster's names on Addr (host:port, UDP and TCP),
// keeping the table current from the API server.
type Server struct {
	// Addr is where it listens, e.g. the bridge's address and port 53.
	Addr string
	// Domain is the cluster domain, e.g. cluster.local.
	Domain string
	Client kubernetes.Interface

	h       Handler
	servers []*dns.Server
}

// Start watches Services and EndpointSlices, waits until they are listed,
// and starts serving. It returns once both listeners are up; ctx's end
// stops everything.
func (s *Server) Start(ctx context.Context) error {
	f := informers.NewSharedInformerFactory(s.Client, 10*time.Minute)
	svcInf := f.Core().V1().Services().Informer()
	epInf := f.Discovery().V1().EndpointSlices().Informer()
	var mu sync.Mutex
	rebuild := func() {
		mu.Lock()
		defer mu.Unlock()
		s.h.Set(Build(s.Domain, listOf[*corev1.Service](svcInf), listOf[*discoveryv1.EndpointSlice](epInf)))
	}
	on := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { rebuild() },
		UpdateFunc: func(any, any) { rebuild() },
		DeleteFunc: func(any) { rebuild() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcInf, epInf} {
		if _, err := inf.AddEventHandler(on); err != nil {
			return err
		}
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cluster DNS: informer for %v did not sync", typ)
		}
	}
	rebuild()
	return s.listen(ctx)
}

// listen starts the UDP and TCP servers and stops them when ctx ends.
func (s *Server) listen(ctx context.Context) error {
	up := make(chan error, 2)
	for _, network := range []string{"udp", "tcp"} {
		srv := &dns.Server{Addr: s.Addr, Net: network, Handler: &s.h,
			NotifyStartedFunc: func() { up <- nil }}
		s.servers = append(s.servers, srv)
		go func() {
			if err := srv.ListenAndServe(); err != nil {
				up <- fmt.Errorf("cluster DNS on %s/%s: %w", s.Addr, network, err)
			}
		}()
	}
	for range s.servers {
		if err := <-up; err != nil {
			s.shutdown()
			return err
		}
	}
	go func() {
		<-ctx.Done()
		s.shutdown()
	}()
	return nil
}

func (s *Server) shutdown() {
	for _, srv := range s.servers {
		_ = srv.Shutdown()
	}
}

// listOf is an informer's objects as T.
func listOf[T any](inf cache.SharedIndexInformer) []T {
	objs := inf.GetStore().List()
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}
