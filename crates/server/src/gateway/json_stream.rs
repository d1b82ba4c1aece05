//! The JSON values of a request body, one after another as the body arrives: a unary call
//! takes the first (what follows it is ignored, as Go's JSON decoder in grpc-gateway ignores
//! it), a streaming call takes each as it completes.

use axum::body::Body;
use http_body_util::BodyExt;
use tonic::Code;

/// A body that could not be read as JSON values.
#[derive(Debug)]
pub(super) struct BodyError {
    pub(super) code: Code,
    pub(super) message: String,
}

impl BodyError {
    fn invalid(message: impl Into<String>) -> BodyError {
        BodyError {
            code: Code::InvalidArgument,
            message: message.into(),
        }
    }
}

/// Reads JSON values out of a request body.
pub(super) struct JsonValues {
    body: Body,
    pending: Vec<u8>,
    ended: bool,
    max_pending: usize,
}

impl JsonValues {
    /// Values of `body`; one value may take at most `max_pending` bytes.
    pub(super) fn new(body: Body, max_pending: usize) -> JsonValues {
        JsonValues {
            body,
            pending: Vec::new(),
            ended: false,
            max_pending,
        }
    }

    /// The next value, or `None` once the body ended (after whitespace at most).
    pub(super) async fn next(&mut self) -> Result<Option<serde_json::Value>, BodyError> {
        loop {
            let mut values = serde_json::Deserializer::from_slice(&self.pending)
                .into_iter::<serde_json::Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    self.pending.drain(..used);
                    return Ok(Some(value));
                }
                // Go's decoder says this of a body cut short.
                Some(Err(e)) if e.is_eof() && self.ended => {
                    return Err(BodyError::invalid("unexpected EOF"));
                }
                Some(Err(e)) if !e.is_eof() => return Err(BodyError::invalid(e.to_string())),
                None if self.ended => return Ok(None),
                Some(Err(_)) | None => {}
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Result<(), BodyError> {
        loop {
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if self.pending.len() + data.len() > self.max_pending {
                        return Err(BodyError {
                            code: Code::ResourceExhausted,
                            message: format!(
                                "gateway: request message larger than max ({} bytes)",
                                self.max_pending
                            ),
                        });
                    }
                    self.pending.extend_from_slice(&data);
                    return Ok(());
                }
                Some(Err(e)) => return Err(BodyError::invalid(e.to_string())),
                None => {
                    self.ended = true;
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(body: &'static str) -> Vec<Result<Option<serde_json::Value>, String>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut values = JsonValues::new(Body::from(body), 1024);
            let mut out = Vec::new();
            loop {
                let next = values.next().await.map_err(|e| e.message);
                let done = !matches!(next, Ok(Some(_)));
                out.push(next);
                if done {
                    return out;
                }
            }
        })
    }

    #[test]
    fn values_follow_each_other_and_whitespace_ends_them() {
        let got = values(" {\"a\":1}\n{\"b\":\"2\"} \n");
        assert_eq!(
            got,
            vec![
                Ok(Some(serde_json::json!({"a": 1}))),
                Ok(Some(serde_json::json!({"b": "2"}))),
                Ok(None)
            ]
        );
        assert_eq!(values(""), vec![Ok(None)]);
    }

    #[test]
    fn a_cut_value_is_unexpected_eof() {
        assert_eq!(values("{\"key\":"), vec![Err("unexpected EOF".to_string())]);
        assert!(values("{\"key\" 1}")[0].is_err());
    }
}
