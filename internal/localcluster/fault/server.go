package fault

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Fleet is what the control socket drives: the running cluster's nodes.
type Fleet interface {
	Nodes() []NodeStatus
	// Apply performs a on the named node and returns its new status. It
	// returns ErrUnknownNode or an error wrapping ErrTransition when it
	// refuses.
	Apply(node string, a Action) (NodeStatus, error)
}

// ErrUnknownNode is returned for a node name the cluster does not have.
var ErrUnknownNode = errors.New("no such node")

// Handler serves the control protocol:
//
//	GET  /nodes                 the nodes and their states
//	POST /nodes/{node}/{action} apply kill, pause, cut or heal
func Handler(f Fleet) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nodes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, f.Nodes())
	})
	mux.HandleFunc("POST /nodes/{node}/{action}", func(w http.ResponseWriter, r *http.Request) {
		a, err := ParseAction(r.PathValue("action"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
			return
		}
		st, err := f.Apply(r.PathValue("node"), a)
		switch {
		case errors.Is(err, ErrUnknownNode):
			writeJSON(w, http.StatusNotFound, errorBody{err.Error()})
		case errors.Is(err, ErrTransition):
			writeJSON(w, http.StatusConflict, errorBody{err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, errorBody{err.Error()})
		default:
			writeJSON(w, http.StatusOK, st)
		}
	})
	return mux
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve listens on the state dir's control socket for fault
// injection; stop closes it.
func Serve(stateDir string, f Fleet) (path string, stop func(), err error) {
	path = SocketPath(stateDir)
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return "", nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: Handler(f), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return path, func() { _ = srv.Close() }, nil
}
