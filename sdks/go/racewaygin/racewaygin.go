// Package racewaygin traces the requests a gin engine serves, as raceway.Middleware does for
// net/http, with gin's route template (c.FullPath(), such as "/orders/:id") on the events:
//
//	router := gin.New()
//	router.Use(gin.Recovery(), racewaygin.Middleware(client))
//	router.GET("/orders/:id", func(c *gin.Context) {
//		raceway.TrackStateRead(c.Request.Context(), "order:"+c.Param("id"))
//		...
//	})
//
// The request's Raceway context is in c.Request.Context() (and in c itself when the engine's
// ContextWithFallback is on). A panic is recorded and re-raised for gin.Recovery (registered
// before this middleware) to answer; the errors the handlers attach with c.Error are recorded
// as error events.
package racewaygin

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// Middleware returns the gin middleware of a client. A disabled client's middleware only
// calls the next handler.
func Middleware(client *raceway.Client) gin.HandlerFunc {
	if client.Disabled() {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		ginWriter := c.Writer
		traced := raceway.Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Writer = &writer{ResponseWriter: ginWriter, span: w}
			defer func() { c.Writer = ginWriter }()
			c.Next()
			for _, err := range c.Errors {
				raceway.RecordError(r.Context(), err.Err)
			}
			// gin sends the status it holds (404 for an unknown route, one set with c.Status)
			// after the chain returns: the response's clock and the recorded status go with it.
			if !ginWriter.Written() {
				w.WriteHeader(ginWriter.Status())
			}
		}))
		// raceway.Middleware reads the route template from Request.Pattern, which net/http's
		// ServeMux fills; gin has matched the route before its middleware runs.
		r := *c.Request
		r.Pattern = c.FullPath()
		traced.ServeHTTP(ginWriter, &r)
	}
}

// writer sends what the handlers write through raceway's response writer (w), which puts the
// trace headers on the response when its status goes out; the rest of gin.ResponseWriter
// (Status, Size, Written, Hijack, ...) is gin's own.
type writer struct {
	gin.ResponseWriter
	span http.ResponseWriter
}

func (w *writer) WriteHeader(code int) { w.span.WriteHeader(code) }

func (w *writer) Write(p []byte) (int, error) { return w.span.Write(p) }

func (w *writer) WriteString(s string) (int, error) { return w.span.Write([]byte(s)) }

// WriteHeaderNow sends gin's pending status (c.AbortWithStatus ends with it).
func (w *writer) WriteHeaderNow() {
	if !w.Written() {
		w.span.WriteHeader(w.Status())
	}
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Flush() {
	if !w.Written() {
		w.span.WriteHeader(w.Status())
	}
	w.ResponseWriter.Flush()
}

// Hijack goes through raceway's writer, which records the upgrade's 101 (websockets).
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.span).Hijack()
}
