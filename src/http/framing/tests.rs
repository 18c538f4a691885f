use std::collections::VecDeque;

use tokio::io::AsyncReadExt;

use super::*;

const SLOW: ReadTimeouts = ReadTimeouts { header: Duration::from_secs(60), body: Duration::from_secs(60) };

/// A reader handing over its input in the given pieces, one per read.
struct Pieces(VecDeque<Vec<u8>>);

impl AsyncRead for Pieces {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(mut piece) = self.0.pop_front() {
            let n = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..n]);
            if n < piece.len() {
                self.0.push_front(piece.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// What actix-http would read from `input` handed over in pieces of `size` bytes.
async fn read_through(input: &[u8], size: usize) -> Vec<u8> {
    let pieces = input.chunks(size).map(<[u8]>::to_vec).collect();
    let mut framed = Framed::new(Pieces(pieces), SLOW, None);
    let mut out = Vec::new();
    framed.read_to_end(&mut out).await.unwrap();
    out
}

/// The same bytes whatever the read sizes (1 byte at a time, odd sizes, all at once).
async fn rewritten(input: &[u8]) -> String {
    let whole = read_through(input, input.len().max(1)).await;
    for size in [1, 2, 3, 7, 64] {
        assert_eq!(read_through(input, size).await, whole, "read {size} bytes at a time");
    }
    String::from_utf8(whole).unwrap()
}

#[tokio::test]
async fn raw_quotes_and_non_ascii_in_a_query_are_percent_encoded() {
    let input = "GET /scim/v2/Users?filter=userName+eq+\"x%40example.com\" HTTP/1.1\r\nHost: a\r\nX-Note: \"kept\"\r\n\r\n\
                 GET /scim/v2/Users?filter=displayName+eq+\"Zoë\"&x=<a> HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        rewritten(input.as_bytes()).await,
        "GET /scim/v2/Users?filter=userName+eq+%22x%40example.com%22 HTTP/1.1\r\nHost: a\r\nX-Note: \"kept\"\r\n\r\n\
         GET /scim/v2/Users?filter=displayName+eq+%22Zo%C3%AB%22&x=%3Ca%3E HTTP/1.1\r\nHost: a\r\n\r\n"
    );
}

#[tokio::test]
async fn bytes_the_uri_parser_refuses_are_encoded_in_a_path_and_control_characters_anywhere() {
    let input =
        b"GET /scim/v2/Users/Zo\xc3\xab<\\^`\"{|} HTTP/1.1\r\n\r\nGET /x?filter=a\x01\x7f\tb\\^`{|} HTTP/1.1\r\n\r\n";
    assert_eq!(
        rewritten(input).await,
        "GET /scim/v2/Users/Zo%C3%AB%3C%5C%5E%60\"{|} HTTP/1.1\r\n\r\nGET /x?filter=a%01%7F%09b\\^`{|} HTTP/1.1\r\n\r\n"
    );
}

#[tokio::test]
async fn headers_and_bodies_pass_untouched() {
    // A body holding what would look like a request line with quotes, then a pipelined request.
    let body = "{\"a\": \"?\\\"x\\\"\"}\r\n\r\nGET /?\"no\" HTTP/1.1\r\n\r\n";
    let input = format!(
        "POST /scim/v2/Users/\"odd\" HTTP/1.1\r\ncontent-length: {}\r\nHost: a\r\n\r\n{body}GET /?q=\"yes\" HTTP/1.1\r\n\r\n",
        body.len()
    );
    let expected = input.replace("/?q=\"yes\"", "/?q=%22yes%22");
    assert_eq!(rewritten(input.as_bytes()).await, expected);
}

#[tokio::test]
async fn chunked_bodies_and_trailers_are_followed() {
    let input = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5;ext=\"?\"\r\n?\"ab\"\r\nA\r\n\"?\"\"\"\"\"\"\"\"\r\n0\r\nTrailer: \"t\"\r\n\r\n\
                 GET /?\"after\" HTTP/1.1\r\n\r\n";
    let expected = input.replace("/?\"after\"", "/?%22after%22");
    assert_eq!(rewritten(input.as_bytes()).await, expected);
}

#[tokio::test]
async fn framing_it_cannot_follow_makes_the_connection_opaque() {
    for head in [
        "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "GET /x HTTP/1.1\r\nUpgrade: WebSocket\r\n\r\n",
        "CONNECT /x HTTP/1.1\r\n\r\n",
    ] {
        let input = format!("{head}abcGET /?\"q\" HTTP/1.1\r\n\r\n");
        assert_eq!(rewritten(input.as_bytes()).await, input, "{head}");
    }
    // Another upgrade is a request like any other here (actix-http frames it by its length).
    let input = "GET /x HTTP/1.1\r\nUpgrade: h2c\r\n\r\nGET /?\"q\" HTTP/1.1\r\n\r\n";
    assert_eq!(rewritten(input.as_bytes()).await, input.replace("?\"q\"", "?%22q%22"));
    // An empty line before a request and a request without a body are fine.
    let input =
        "\r\nGET /?\"a\" HTTP/1.1\r\n\r\nGET /?\"b\" HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /?\"c\" HTTP/1.1\r\n\r\n";
    assert_eq!(rewritten(input.as_bytes()).await, input.replace('"', "%22"));
}

#[tokio::test]
async fn a_head_or_body_that_does_not_arrive_in_time_fails_the_read() {
    let timeouts = ReadTimeouts { header: Duration::from_millis(300), body: Duration::from_millis(600) };
    for (sent, limit) in [
        ("GET /scim/v2/Users HTTP/1.1\r\nHost: a\r\nX-Slow: ", timeouts.header),
        ("POST /scim/v2/Users HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"userName\"", timeouts.body),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", timeouts.body),
        ("GET /x HTTP/1.1\r\nUpgrade: websocket\r\n\r\nabc", timeouts.body),
        ("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc", timeouts.body),
    ] {
        let (mut client, server) = tokio::io::duplex(1024);
        tokio::io::AsyncWriteExt::write_all(&mut client, sent.as_bytes()).await.unwrap();
        let mut framed = Framed::new(server, timeouts, None);
        let started = Instant::now();
        let mut buf = vec![0u8; 1024];
        let mut got = 0;
        let err = loop {
            match framed.read(&mut buf).await {
                Ok(0) => panic!("the stream ended: {sent}"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert_eq!(got, sent.len(), "everything sent was passed on first");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{sent}");
        let took = started.elapsed();
        assert!(took >= limit && took < limit + Duration::from_millis(500), "{took:?} for {sent}");
        drop(client);
    }
}

#[tokio::test]
async fn an_idle_connection_between_requests_is_not_timed_here() {
    let timeouts = ReadTimeouts { header: Duration::from_millis(100), body: Duration::from_millis(100) };
    let (mut client, server) = tokio::io::duplex(1024);
    let mut framed = Framed::new(server, timeouts, None);
    tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab").await.unwrap();
    let mut buf = vec![0u8; 1024];
    let mut got = 0;
    while got < 39 {
        got += framed.read(&mut buf).await.unwrap();
    }
    // Complete: waiting now is keep-alive (actix-http's own timer), not a slow request.
    let waited = tokio::time::timeout(Duration::from_millis(400), framed.read(&mut buf)).await;
    assert!(waited.is_err(), "the read should still be waiting: {waited:?}");
}
