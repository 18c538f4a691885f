//! The listening socket and what each connection goes through before actix-http's HTTP/1 sees
//! it: at most `max_connections` at once, TLS when configured (rustls, `tls`), and the framing
//! reader with its read deadlines and query repair (`framing`).
//!
//! actix-web's `HttpServer` offers neither a reader under the parser nor TLS with a
//! certificate that changes while serving, so the server is assembled here from the same parts
//! it uses (actix-server, actix-http's `HttpService`), with its defaults: keep-alive 5 s, the
//! first request's head within 5 s of connecting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive, Request, Response};
use actix_server::{GracefulShutdownSignal, Server};
use actix_service::{IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config};
use actix_web::dev::AppConfig;
use anyhow::Context;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::framing::{Framed, ReadTimeouts};
use super::tls::Certificates;

/// A TLS handshake must finish within this, or the connection is closed.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the listener treats connections.
#[derive(Clone)]
pub struct ListenOptions {
    pub workers: usize,
    pub blocking_threads_per_worker: usize,
    /// Connections served at once, over all workers; more wait in the kernel's accept queue.
    pub max_connections: usize,
    pub timeouts: ReadTimeouts,
    pub tls: Option<Arc<Certificates>>,
}

/// Bind `addr` and build the server (not yet running): its address and the server.
pub fn bind<F, I, S, B>(addr: SocketAddr, options: &ListenOptions, factory: F) -> anyhow::Result<(SocketAddr, Server)>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let listener = listen_socket(addr)?;
    let local = listener.local_addr()?;
    let per_worker = options.max_connections.div_ceil(options.workers.max(1)).max(1);
    let builder = Server::build()
        .workers(options.workers)
        .worker_max_blocking_threads(options.blocking_threads_per_worker)
        .max_concurrent_connections(per_worker)
        .disable_signals()
        .shutdown_timeout(30);
    let shutdown = builder.graceful_shutdown_signal();
    let timeouts = options.timeouts;
    let builder = match &options.tls {
        None => builder.listen("scim-bridge", listener, move || {
            fn_service(move |io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                let _ = io.set_nodelay(true);
                Ok::<_, DispatchError>((Framed::new(io, timeouts, peer), peer))
            })
            .and_then(http1(&factory, local, shutdown.clone()))
        }),
        Some(certificates) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(certificates.server_config()?));
            builder.listen("scim-bridge-tls", listener, move || {
                let acceptor = acceptor.clone();
                fn_service(move |io: TcpStream| {
                    let acceptor = acceptor.clone();
                    async move {
                        let peer = io.peer_addr().ok();
                        let _ = io.set_nodelay(true);
                        let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                tracing::debug!(client.address = ?peer, error.cause = %e, "TLS handshake failed");
                                return Err(DispatchError::Io(e));
                            }
                            Err(_) => {
                                tracing::debug!(client.address = ?peer, "TLS handshake timed out");
                                return Err(DispatchError::SlowRequestTimeout);
                            }
                        };
                        Ok((Framed::new(tls, timeouts, peer), peer))
                    }
                })
                .and_then(http1(&factory, local, shutdown.clone()))
            })
        }
    }
    .with_context(|| format!("listening on {addr}"))?;
    Ok((local, builder.run()))
}

/// One worker's HTTP/1 service over connections of type `T`, with actix-web's defaults.
fn http1<T, F, I, S, B>(
    factory: &F,
    local: SocketAddr,
    shutdown: GracefulShutdownSignal,
) -> impl ServiceFactory<(T, Option<SocketAddr>), Config = (), Response = (), Error = DispatchError, InitError = ()>
+ use<T, F, I, S, B>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    F: Fn() -> I,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let app = factory().into_factory().map_err(|e| e.into().error_response());
    HttpService::<T, _, B>::build()
        .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .local_addr(local)
        .graceful_shutdown_signal(move || {
            let signal = shutdown.clone();
            async move { signal.notified().await }
        })
        .h1(map_config(app, |_| AppConfig::default()))
}

/// A listening socket with address reuse and a deep accept queue (as actix-web's own).
fn listen_socket(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into()).with_context(|| format!("binding {addr}"))?;
    socket.listen(1024)?;
    Ok(socket.into())
}
