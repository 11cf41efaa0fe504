//! Telling a chunked body that was cut short from one that ended.
//!
//! awc 3 ends a response body stream quietly when the connection closes, also in the
//! middle of a chunked body (awc's `PlStream` maps the decoder's end of input to the end
//! of the body), so a truncated body would read as complete. The HTTP/1 decoder reads
//! from the socket only while it still needs bytes, so for a chunked body an end-of-file
//! read *during* the body means the server hung up before the last chunk. The client's
//! TCP streams are therefore wrapped ([`EofWatchingConnector`]) to note an end-of-file
//! read in a task-local flag that [`watch`] sets up around reading one body.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_rt::net::{ActixStream, Ready, TcpStream};
use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use awc::http::Uri;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

tokio::task_local! {
    /// Set when a watched read saw end-of-file; present only inside [`watch`].
    static END_OF_FILE: Cell<bool>;
}

/// Runs `read` (the reading of one body) and says whether the connection hit
/// end-of-file while it ran.
pub(crate) async fn watch<F: Future>(read: F) -> (F::Output, bool) {
    END_OF_FILE
        .scope(Cell::new(false), async {
            let output = read.await;
            (output, END_OF_FILE.with(Cell::get))
        })
        .await
}

/// A TCP stream that reports end-of-file reads to [`watch`].
pub(crate) struct EofWatchedStream(TcpStream);

impl fmt::Debug for EofWatchedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EofWatchedStream").field(&self.0).finish()
    }
}

impl AsyncRead for EofWatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(())))
            && buf.filled().len() == before
            && buf.remaining() > 0
        {
            // Outside a watched body read (connecting, idle pool checks) nobody asks.
            let _ = END_OF_FILE.try_with(|seen| seen.set(true));
        }
        polled
    }
}

impl AsyncWrite for EofWatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl ActixStream for EofWatchedStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        ActixStream::poll_read_ready(&self.0, cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        ActixStream::poll_write_ready(&self.0, cx)
    }
}

/// actix-tls's TCP connector, its streams wrapped in [`EofWatchedStream`].
#[derive(Clone)]
pub(crate) struct EofWatchingConnector {
    /// The connector doing the work.
    pub(crate) tcp: ConnectorService,
}

impl Service<ConnectInfo<Uri>> for EofWatchingConnector {
    type Response = Connection<Uri, EofWatchedStream>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<ConnectInfo<Uri>>::poll_ready(&self.tcp, cx)
    }

    fn call(&self, request: ConnectInfo<Uri>) -> Self::Future {
        let connecting = self.tcp.call(request);
        Box::pin(async move {
            let (stream, connection) = connecting.await?.replace_io(());
            Ok(connection.replace_io(EofWatchedStream(stream)).1)
        })
    }
}
