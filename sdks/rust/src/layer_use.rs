//! Catches the layer added before the routes. axum's `Router::layer` wraps only the routes
//! added before it, so `Router::new().layer(RacewayLayer::new(client)).route(...)` traces
//! nothing, and the handlers' calls find no context. When that happens (a [`RacewayLayer`] was
//! made for the client, no request went through one, and the client is used outside any
//! context) the client says so, once.
//!
//! [`RacewayLayer`]: crate::middleware::RacewayLayer

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub(crate) struct LayerUse {
    made: AtomicBool,
    served: AtomicBool,
    warned: AtomicBool,
}

impl LayerUse {
    pub(crate) fn layer_made(&self) {
        self.made.store(true, Ordering::Relaxed);
    }

    pub(crate) fn request_served(&self) {
        // A load first: the common case writes nothing, so requests do not contend on it.
        if !self.served.load(Ordering::Relaxed) {
            self.served.store(true, Ordering::Relaxed);
        }
    }

    /// The client was used with no current context.
    pub(crate) fn outside_context(&self) {
        if self.made.load(Ordering::Relaxed)
            && !self.served.load(Ordering::Relaxed)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            crate::transport::warn(
                "raceway: the client was used outside any request's context, and no request has \
                 gone through its RacewayLayer: Router::layer wraps only the routes added before \
                 it, so add .layer(RacewayLayer::new(client)) after the last .route(...)",
            );
        }
    }
}
