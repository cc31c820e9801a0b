//! A real `copiloot serve` on an ephemeral loopback port for the HTTP tests (`tests/serve.rs`,
//! `tests/serve_live.rs`): plain HTTP/1.1 requests over `TcpStream` and a reader of server-sent events,
//! so the tests see exactly the bytes a client gets.

use super::copiloot_command;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    /// `copiloot serve --port 0 EXTRA…` on the project's models; waits for the address line.
    pub fn start(extra: &[&str]) -> Server {
        let mut cmd = copiloot_command(&["serve", "--port", "0"]);
        cmd.args(extra).env_remove("COPILOOT_API_KEY");
        Server::spawn(cmd)
    }

    /// `cmd` (a `copiloot serve --port 0 …` command); waits for the address line.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn copiloot serve: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        let addr = line.trim().rsplit("http://").next().unwrap_or_default().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "unexpected first line {line:?}");
        Server { child, addr }
    }

    /// One request on a new connection: (status, head, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, String) {
        request(&self.addr, method, path, headers, body)
    }

    /// A JSON request; the body parsed (`Null` when it is not JSON).
    pub fn json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, serde_json::Value) {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        let (status, head, body) = self.request(method, path, &all, body.as_bytes());
        (status, head, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    }

    pub fn post_json(&self, path: &str, body: &str) -> (u16, String, serde_json::Value) {
        self.json("POST", path, &[], body)
    }

    /// Opens a server-sent event stream (HTTP/1.0, so it comes close-delimited, without chunk framing);
    /// asserts a 200 `text/event-stream` and returns the stream positioned at the body.
    pub fn events(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> EventStream {
        let mut stream = TcpStream::connect(&self.addr).unwrap_or_else(|e| panic!("{e}"));
        let mut head = format!(
            "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        stream.write_all(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        assert!(line.contains(" 200"), "status line {line:?}");
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
            if line.to_ascii_lowercase().starts_with("content-type:") {
                assert!(line.contains("text/event-stream"), "{line:?}");
            }
            if line.trim().is_empty() {
                return EventStream(reader);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to `addr` on a new connection (`Connection: close`): (status, head, body).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// The body of a server-sent event response.
pub struct EventStream(pub BufReader<TcpStream>);

impl EventStream {
    /// Every event up to `closed` (included) or the end of the stream.
    pub fn until_closed(&mut self) -> Vec<(String, serde_json::Value)> {
        let mut events = Vec::new();
        while let Some((name, data)) = self.next_event() {
            let last = name == "closed";
            events.push((name, data));
            if last {
                break;
            }
        }
        events
    }

    /// The next event as (event name, data as JSON), skipping keep-alive comments; `None` at the end.
    pub fn next_event(&mut self) -> Option<(String, serde_json::Value)> {
        let (mut event, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            if self.0.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() && !data.is_empty() {
                let value =
                    serde_json::from_str(&data).unwrap_or_else(|e| panic!("event data {data:?}: {e}"));
                return Some((event, value));
            }
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }
}
