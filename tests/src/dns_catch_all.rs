//! A DNS server that answers every `A` question with 127.0.0.1 and every other question with
//! no record (RFC 1035, over UDP): in a network namespace whose `/etc/resolv.conf` names it,
//! every host name is this machine, so no generated host name can mean anything else.

use std::net::SocketAddr;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;

pub struct DnsCatchAll {
    answering: JoinHandle<()>,
}

impl DnsCatchAll {
    pub async fn start(listen: SocketAddr) -> Self {
        let socket = UdpSocket::bind(listen)
            .await
            .unwrap_or_else(|error| panic!("the DNS server listens on {listen}: {error}"));
        let answering = tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            while let Ok((length, from)) = socket.recv_from(&mut buffer).await {
                if let Some(answer) = answer(&buffer[..length]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        Self { answering }
    }
}

impl Drop for DnsCatchAll {
    fn drop(&mut self) {
        self.answering.abort();
    }
}

/// The answer to one query: its id and question, and for `A IN` one record of 127.0.0.1.
/// `None` for a packet that is not a query with one question.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let header = query.get(..HEADER_LEN)?;
    let is_query = header[2] & 0x80 == 0;
    let questions = u16::from_be_bytes([header[4], header[5]]);
    if !is_query || questions != 1 {
        return None;
    }
    let mut end = HEADER_LEN;
    loop {
        let label = *query.get(end)? as usize;
        end += 1;
        if label == 0 {
            break;
        }
        // Compression pointers have no place in a question.
        if label & 0xC0 != 0 {
            return None;
        }
        end += label;
    }
    let kind = query.get(end..end + 4)?;
    let question_type = u16::from_be_bytes([kind[0], kind[1]]);
    let class = u16::from_be_bytes([kind[2], kind[3]]);
    end += 4;
    let answers: u16 = u16::from(question_type == TYPE_A && class == CLASS_IN);

    let mut reply = Vec::with_capacity(end + 16);
    reply.extend_from_slice(&header[..2]);
    // A response, recursion desired as asked, recursion available, no error.
    reply.push(0x80 | (header[2] & 0x01));
    reply.push(0x80);
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&answers.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(&query[HEADER_LEN..end]);
    if answers == 1 {
        // The name by pointer to the question's, type A, class IN, 60 s, 4 bytes.
        reply.extend_from_slice(&[0xC0, HEADER_LEN as u8]);
        reply.extend_from_slice(&TYPE_A.to_be_bytes());
        reply.extend_from_slice(&CLASS_IN.to_be_bytes());
        reply.extend_from_slice(&60u32.to_be_bytes());
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&[127, 0, 0, 1]);
    }
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` of `question_type`, as a resolver sends it.
    fn query(name: &str, question_type: u16) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            packet.push(label.len() as u8);
            packet.extend_from_slice(label.as_bytes());
        }
        packet.push(0);
        packet.extend_from_slice(&question_type.to_be_bytes());
        packet.extend_from_slice(&CLASS_IN.to_be_bytes());
        packet
    }

    #[test]
    fn every_name_is_answered_with_the_loopback_address() {
        let asked = query("acme.cloud.looker.com", TYPE_A);
        let reply = answer(&asked).unwrap();
        assert_eq!(&reply[..2], &[0x12, 0x34], "the query's id");
        assert_eq!(reply[2] & 0x80, 0x80, "a response");
        assert_eq!(reply[3] & 0x0F, 0, "no error");
        assert_eq!(&reply[6..8], &[0, 1], "one answer");
        assert_eq!(
            &reply[12..asked.len()],
            &asked[12..],
            "the question repeated"
        );
        assert_eq!(&reply[reply.len() - 4..], &[127, 0, 0, 1]);
    }

    #[test]
    fn other_record_types_get_no_record_and_garbage_gets_no_reply() {
        let reply = answer(&query("a", 28)).unwrap();
        assert_eq!(&reply[6..8], &[0, 0], "no AAAA record");
        assert_eq!(reply[3] & 0x0F, 0, "the name exists");
        assert!(answer(&[0x12, 0x34, 0x81]).is_none());
        let mut truncated = query("acme.cloud.looker.com", TYPE_A);
        truncated.truncate(20);
        assert!(answer(&truncated).is_none());
    }
}
