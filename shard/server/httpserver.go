package server

import (
	"log/slog"
	"net/http"
	"time"
)

// WriteTimeout bounds writing an answer. For writes it runs from when the
// answer is ready, not from when the request was read (answerBy), so a slow
// commit is still answered with its true result.
const WriteTimeout = 15 * time.Second

// NewHTTPServer is the HTTP server a shard serves h with: header and body
// limits and timeouts (the event stream clears its write deadline itself).
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
