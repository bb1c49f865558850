//! `arksync healthcheck`: exits 0 when the local service answers `GET
//! /readyz` with 200, 1 otherwise. For container health checks on images
//! that carry no curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Asks `/readyz` of the service listening on `listen` (a wildcard address
/// is asked on loopback).
pub fn check(listen: SocketAddr) -> anyhow::Result<()> {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let status = String::from_utf8_lossy(&head);
    anyhow::ensure!(status.ends_with(" 200"), "/readyz answered {status:?}");
    Ok(())
}
