//! The TwiML documents the voice webhook answers with.

/// `<Connect><Stream>`: a bidirectional media stream to `url` with custom parameters,
/// which Twilio hands back in the stream's `start` message.
pub fn connect_stream(url: &str, parameters: &[(&str, &str)]) -> String {
    let mut xml =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect><Stream url=\"{}\">", escape(url));
    for (name, value) in parameters {
        xml.push_str(&format!("<Parameter name=\"{}\" value=\"{}\"/>", escape(name), escape(value)));
    }
    xml.push_str("</Stream></Connect></Response>");
    xml
}

/// Says `text` and hangs up.
pub fn say_and_hang_up(text: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say><Hangup/></Response>", escape(text))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_parameters_are_escaped() {
        let xml = connect_stream("wss://x.test/v1/telephony/twilio/stream", &[("token", "a\"b&c")]);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect><Stream url=\"wss://x.test/v1/telephony/twilio/stream\">\
             <Parameter name=\"token\" value=\"a&quot;b&amp;c\"/></Stream></Connect></Response>"
        );
        assert!(say_and_hang_up("Sorry <now>").contains("<Say>Sorry &lt;now&gt;</Say><Hangup/>"));
    }
}
