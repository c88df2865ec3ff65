package hostfilter

import "net/http"

// Apply sets srv.DisableGeneralOptionsHandler, and nothing else, so that
// "OPTIONS *" requests reach srv.Handler, and so [Filter.Handler], instead of
// being answered by net/http before any handler: without it a client naming
// any host at all gets 200 to "OPTIONS *". The Handler answers them as
// net/http would once their host passed. Call it before the server starts.
//
// Apply cannot fail today; it returns an error as every windhover Apply
// does, so that code applying several policies treats them alike.
func (f *Filter) Apply(srv *http.Server) error {
	srv.DisableGeneralOptionsHandler = true
	return nil
}
