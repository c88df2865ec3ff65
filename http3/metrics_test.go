package http3_test

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	qhttp3 "github.com/quic-go/quic-go/http3"

	"github.com/windhover/windhover"
	"github.com/windhover/windhover/http3"
)

// find returns the metrics of family name in fams whose labels include
// want.
func find(fams []*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func labelOf(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}

// The HTTP/3 endpoint's collector and the hardened server's share one
// registry and its families; requests over HTTP/3 are measured by the
// server's own request metrics.
func TestMetricsOverHTTP3(t *testing.T) {
	st := serve(t, windhover.Config{}, http3.Config{}, func(mux *http.ServeMux, _ *windhover.Server) {
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	})
	reg := prometheus.NewPedanticRegistry()
	if err := st.ws.Register(reg); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(st.h3.Collector("")); err != nil {
		t.Fatal(err)
	}
	c := st.client(t)
	if code, _ := get(t, c, st.url("", "/items/7")); code != http.StatusOK {
		t.Fatalf("GET /items/7: %d", code)
	}
	// Over TCP as well, so that both transports feed the shared families.
	tcp := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: st.ca.Pool()}}}
	res, err := tcp.Get("https://" + st.tcp + "/items/8")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the registry: %v", err)
	}
	// The TCP request's series says 1.1; the HTTP/3 request's is the other.
	var h3 []*dto.Metric
	for _, m := range find(fams, "http_server_request_duration_seconds", map[string]string{"http_route": "/items/{id}", "network_protocol_name": "http"}) {
		if v, _ := labelOf(m, "network_protocol_version"); v != "1.1" && v != "2" {
			h3 = append(h3, m)
		}
	}
	if len(h3) != 1 || h3[0].GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("request duration series of the HTTP/3 request to /items/{id}: %v", h3)
	}
	if v, _ := labelOf(h3[0], "network_protocol_version"); v != "3" {
		t.Errorf("network_protocol_version = %q, want 3", v)
	}
	udp := map[string]string{"network_transport": "udp", "network_type": "ipv4"}
	if m := find(fams, "windhover_active_connections", udp); len(m) != 1 || m[0].GetGauge().GetValue() != 1 {
		t.Errorf("windhover_active_connections{udp}: %v, want 1", m)
	}
	if m := find(fams, "windhover_tls_handshake_duration_seconds", map[string]string{"network_transport": "udp", "tls_protocol_version": "1.3"}); len(m) != 1 || m[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("windhover_tls_handshake_duration_seconds{udp}: %v, want one handshake", m)
	}
	if m := find(fams, "windhover_http3_accepted_connections_total", map[string]string{"policy": "http3", "policy_name": "default"}); len(m) != 1 || m[0].GetCounter().GetValue() != 1 {
		t.Errorf("windhover_http3_accepted_connections_total: %v, want 1", m)
	}
	if m := find(fams, "windhover_active_connections", map[string]string{"network_transport": "tcp"}); len(m) == 0 {
		t.Errorf("windhover_active_connections{tcp} missing beside udp's")
	}

	// A connection's duration is recorded at its close.
	_ = c.Transport.(*qhttp3.Transport).Close()
	waitFor(t, "the QUIC connection to close", func() bool { return st.h3.Stats().Open == 0 })
	if fams, err = reg.Gather(); err != nil {
		t.Fatal(err)
	}
	if m := find(fams, "windhover_connection_duration_seconds", map[string]string{"network_transport": "udp", "network_protocol_version": "3", "tls_protocol_version": "1.3"}); len(m) != 1 || m[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("windhover_connection_duration_seconds{udp}: %v, want one connection", m)
	}
}
