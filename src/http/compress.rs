//! Compression for every answer but the event streams.
//!
//! tower-http's compression wraps each response body in an enum large enough for a gzip or
//! brotli encoder (about 5.7 KB), even when its predicate leaves the body as it is. An SSE
//! stream is never compressed (each event must reach the client at once) and lives for
//! minutes, so with 10,000 streams open that wrapper alone held some 57 MB. Event streams
//! therefore bypass the layer altogether.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures::future::{Either, MapOk, TryFutureExt};
use tower::{Layer, Service};
use tower_http::compression::{Compression, CompressionLayer, Predicate};

/// Whether a request asks for an event stream (`GET /api/.../events`), whose answer is never
/// compressed.
pub fn is_event_stream(request: &Request) -> bool {
    let path = request.uri().path();
    path.starts_with("/api/") && path.ends_with("/events")
}

/// [`CompressionLayer`], except for event streams.
#[derive(Clone)]
pub struct CompressExceptStreamsLayer<P> {
    compression: CompressionLayer<P>,
}

impl<P> CompressExceptStreamsLayer<P> {
    pub fn new(compression: CompressionLayer<P>) -> Self {
        Self { compression }
    }
}

impl<S: Clone, P: Predicate> Layer<S> for CompressExceptStreamsLayer<P> {
    type Service = CompressExceptStreams<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        CompressExceptStreams {
            compressed: self.compression.layer(inner.clone()),
            plain: inner,
        }
    }
}

#[derive(Clone)]
pub struct CompressExceptStreams<S, P> {
    plain: S,
    compressed: Compression<S, P>,
}

type ToBody<B> = fn(Response<B>) -> Response<Body>;

impl<S, B, P> Service<Request> for CompressExceptStreams<S, P>
where
    S: Service<Request, Response = Response<B>, Error = Infallible>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError> + Send + Sync,
    P: Predicate,
{
    type Response = Response<Body>;
    type Error = Infallible;
    #[allow(clippy::type_complexity)]
    type Future = Either<
        MapOk<S::Future, ToBody<B>>,
        MapOk<
            <Compression<S, P> as Service<Request>>::Future,
            ToBody<tower_http::compression::CompressionBody<B>>,
        >,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both wrap the same service (the router's routes, which are always ready).
        self.plain.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if is_event_stream(&request) {
            Either::Left(self.plain.call(request).map_ok(to_body as ToBody<B>))
        } else {
            Either::Right(
                self.compressed
                    .call(request)
                    .map_ok(to_body as ToBody<tower_http::compression::CompressionBody<B>>),
            )
        }
    }
}

fn to_body<B>(response: Response<B>) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(Body::new)
}
