// Package racewayecho traces the requests an echo server serves, as raceway.Middleware does
// for net/http, with echo's route template (c.Path(), such as "/orders/:id") on the events:
//
//	e := echo.New()
//	e.Use(middleware.Recover(), racewayecho.Middleware(client))
//	e.GET("/orders/:id", func(c echo.Context) error {
//		raceway.TrackStateRead(c.Request().Context(), "order:"+c.Param("id"))
//		...
//	})
//
// The request's Raceway context is in c.Request().Context(). An error a handler returns is
// recorded as an error event and answered by the echo's HTTPErrorHandler here, so that its
// status and the response's clock are known; it is still returned to the middlewares
// before this one (echo's Logger does the same). A panic is recorded and re-raised for
// middleware.Recover (registered before this middleware) to answer.
package racewayecho

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/raceway-dev/raceway/sdks/go/raceway"
)

// Middleware returns the echo middleware of a client. A disabled client's middleware only
// calls the next handler.
func Middleware(client *raceway.Client) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if client.Disabled() {
			return next
		}
		return func(c echo.Context) error {
			var handlerErr error
			response := c.Response()
			echoWriter := response.Writer
			traced := raceway.Middleware(client)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// What echo writes goes through raceway's writer, which puts the trace headers
				// on the response when its status goes out.
				response.Writer = w
				defer func() { response.Writer = echoWriter }()
				c.SetRequest(r)
				if handlerErr = next(c); handlerErr != nil {
					raceway.RecordError(r.Context(), handlerErr)
					c.Error(handlerErr)
				}
			}))
			// raceway.Middleware reads the route template from Request.Pattern, which
			// net/http's ServeMux fills; echo has matched the route before its middleware runs.
			r := *c.Request()
			r.Pattern = c.Path()
			traced.ServeHTTP(echoWriter, &r)
			return handlerErr
		}
	}
}
