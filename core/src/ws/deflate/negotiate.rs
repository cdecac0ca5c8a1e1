//! Negotiation of permessage-deflate (RFC 7692 §5, §7.1): the client's offer, the server's choice
//! among the offers it receives, and the client's check of the server's answer.
//!
//! An extension header value is a comma-separated list of `name; param[=value]` items. Parameter
//! values may be quoted (`"10"`); a value holding `,` or `;` is not supported, and since no
//! permessage-deflate parameter has one, such an item is refused as malformed.

use super::{DeflateConfig, DeflateParams};
use crate::http::tokens;
use crate::ws::handshake::Header;
use alloc::string::String;
use core::fmt::Write;

/// The extension's registered name.
const NAME: &str = "permessage-deflate";

/// The header both sides negotiate with.
pub(crate) const HEADER: &str = "sec-websocket-extensions";

/// The parameters of one permessage-deflate item, checked for duplicates, unknown names and
/// out-of-range values (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Item {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (only valid in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

impl Item {
    /// Parses the parameters after the name; `Err` says why the item is invalid.
    fn parse<'a>(params: impl Iterator<Item = &'a str>) -> Result<Item, &'static str> {
        let mut item = Item::default();
        for param in params {
            let (name, value) = match param.split_once('=') {
                Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
                None => (param.trim(), None),
            };
            let flag = |seen: bool| match (seen, value) {
                (true, _) => Err("a permessage-deflate parameter is repeated"),
                (false, Some(_)) => Err("a no_context_takeover parameter has a value"),
                (false, None) => Ok(true),
            };
            if name.eq_ignore_ascii_case("server_no_context_takeover") {
                item.server_no_context_takeover = flag(item.server_no_context_takeover)?;
            } else if name.eq_ignore_ascii_case("client_no_context_takeover") {
                item.client_no_context_takeover = flag(item.client_no_context_takeover)?;
            } else if name.eq_ignore_ascii_case("server_max_window_bits") {
                if item.server_max_window_bits.is_some() {
                    return Err("a permessage-deflate parameter is repeated");
                }
                let bits = value.ok_or("server_max_window_bits without a value")?;
                item.server_max_window_bits = Some(window_bits(bits)?);
            } else if name.eq_ignore_ascii_case("client_max_window_bits") {
                if item.client_max_window_bits.is_some() {
                    return Err("a permessage-deflate parameter is repeated");
                }
                item.client_max_window_bits = Some(value.map(window_bits).transpose()?);
            } else {
                return Err("unknown permessage-deflate parameter");
            }
        }
        Ok(item)
    }
}

/// A parameter value without its quotes, if it had any.
fn unquote(value: &str) -> Result<&str, &'static str> {
    match value.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or("unterminated quoted parameter value"),
        None => Ok(value),
    }
}

/// A window size: a decimal from 8 to 15 without leading zeros.
fn window_bits(value: &str) -> Result<u8, &'static str> {
    match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => {
            value.parse().map_err(|_| "window bits out of range")
        }
        _ => Err("window bits must be a number from 8 to 15"),
    }
}

/// Splits an extension item into its name and its parameters.
fn split_item(item: &str) -> (&str, impl Iterator<Item = &str>) {
    let mut parts = item.split(';');
    let name = parts.next().unwrap_or("").trim();
    (name, parts.filter(|p| !p.trim().is_empty()))
}

/// Checks the client's own settings before they go on the wire.
pub(crate) fn check_config(config: &DeflateConfig) -> Result<(), &'static str> {
    let in_range = |bits: Option<u8>| bits.is_none_or(|bits| (8..=15).contains(&bits));
    if !in_range(config.client_max_window_bits) {
        Err("client_max_window_bits must be from 8 to 15")
    } else if !in_range(config.server_max_window_bits) {
        Err("server_max_window_bits must be from 8 to 15")
    } else if config.level > 9 {
        Err("the compression level must be from 0 to 9")
    } else {
        Ok(())
    }
}

/// Client role: the `Sec-WebSocket-Extensions` value offering permessage-deflate with the
/// configured parameters. `client_max_window_bits` of 15 is offered without a value: the server
/// may then choose a smaller window for us. A `server_max_window_bits` below 15 is asked for in
/// a first offer, followed by the same offer without it: a server that cannot limit its window
/// takes the second (RFC 7692 §7.1.2.1 lets it decline the first).
pub(crate) fn offer(config: &DeflateConfig) -> String {
    let unlimited = offer_item(config, None);
    match config.server_max_window_bits.filter(|&bits| bits < 15) {
        Some(bits) => {
            let mut offer = offer_item(config, Some(bits));
            offer.push_str(", ");
            offer.push_str(&unlimited);
            offer
        }
        None => unlimited,
    }
}

/// One permessage-deflate offer, asking for `server_bits` if given.
fn offer_item(config: &DeflateConfig, server_bits: Option<u8>) -> String {
    let mut offer = String::from(NAME);
    if config.server_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = server_bits {
        let _ = write!(offer, "; server_max_window_bits={bits}");
    }
    match config.client_max_window_bits {
        Some(15) => offer.push_str("; client_max_window_bits"),
        Some(bits) => {
            let _ = write!(offer, "; client_max_window_bits={bits}");
        }
        None => {}
    }
    offer
}

/// Client role: checks the extensions of a `101` against what `offered` (`None`: nothing was
/// offered). Returns the agreed parameters, `None` when the server declined, or why the answer
/// breaks RFC 7692 (the connection must then fail).
pub(crate) fn check_answer(
    headers: &[Header],
    offered: Option<&DeflateConfig>,
) -> Result<Option<DeflateParams>, &'static str> {
    let mut agreed = None;
    for extension in tokens(headers, HEADER) {
        let (name, params) = split_item(extension);
        let Some(config) = offered.filter(|_| name.eq_ignore_ascii_case(NAME)) else {
            return Err("the server chose an extension that was not offered");
        };
        if agreed.is_some() {
            return Err("the server chose permessage-deflate twice");
        }
        let item = Item::parse(params)?;
        if config.server_no_context_takeover && !item.server_no_context_takeover {
            return Err("the server ignored the requested server_no_context_takeover");
        }
        let client_bits = match (config.client_max_window_bits, item.client_max_window_bits) {
            (_, None) => config.client_max_window_bits.unwrap_or(15),
            (_, Some(None)) => return Err("client_max_window_bits without a value in the answer"),
            (None, Some(Some(_))) => {
                return Err("the server set client_max_window_bits, which was not offered")
            }
            (Some(mine), Some(Some(bits))) => bits.min(mine),
        };
        agreed = Some(DeflateParams {
            server_no_context_takeover: item.server_no_context_takeover,
            client_no_context_takeover: config.client_no_context_takeover
                || item.client_no_context_takeover,
            server_max_window_bits: item.server_max_window_bits.unwrap_or(15),
            client_max_window_bits: client_bits,
        });
    }
    Ok(agreed)
}

/// Server role: the first permessage-deflate offer in `headers` this server accepts, with the
/// `Sec-WebSocket-Extensions` value that says so. Offers that are malformed or name unknown
/// parameters are declined (RFC 7692 §5); `None` when none is acceptable or `config` is off.
pub(crate) fn accept(
    headers: &[Header],
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    if !config.active() {
        return None;
    }
    tokens(headers, HEADER).find_map(|extension| {
        let (name, params) = split_item(extension);
        if !name.eq_ignore_ascii_case(NAME) {
            return None;
        }
        let offer = Item::parse(params).ok()?;
        let server_no_context_takeover =
            offer.server_no_context_takeover || config.server_no_context_takeover;
        // Our window: when the client asks for a limit, within it and our own (RFC 7692
        // §7.1.2.1 lets the answer name a smaller one); the full one when it does not. An
        // out-of-range setting of ours is taken as the nearest valid size.
        let server_bits = offer.server_max_window_bits.map_or(15, |asked| {
            asked.min(config.server_max_window_bits.unwrap_or(15).clamp(8, 15))
        });
        // The client's window is ours to limit only if it said it can be limited.
        let client_bits = match (offer.client_max_window_bits, config.client_max_window_bits) {
            (None, _) => None,
            (Some(offered), mine) => {
                let limit = mine.unwrap_or(15).min(offered.unwrap_or(15));
                (limit < offered.unwrap_or(15)).then_some(limit)
            }
        };
        let params = DeflateParams {
            server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits
                .or(offer.client_max_window_bits.flatten())
                .unwrap_or(15),
        };
        let mut answer = String::from(NAME);
        if server_no_context_takeover {
            answer.push_str("; server_no_context_takeover");
        }
        if config.client_no_context_takeover {
            answer.push_str("; client_no_context_takeover");
        }
        if offer.server_max_window_bits.is_some() {
            let _ = write!(answer, "; server_max_window_bits={server_bits}");
        }
        if let Some(bits) = client_bits {
            let _ = write!(answer, "; client_max_window_bits={bits}");
        }
        Some((params, answer))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn headers(values: &[&str]) -> Vec<Header> {
        values
            .iter()
            .map(|v| Header::new("Sec-WebSocket-Extensions", *v))
            .collect()
    }

    fn params(server_nct: bool, client_nct: bool, server: u8, client: u8) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server,
            client_max_window_bits: client,
        }
    }

    #[test]
    fn the_default_offer_lets_the_server_limit_our_window_and_asks_for_a_small_one() {
        let config = DeflateConfig::default();
        assert_eq!(
            offer(&config),
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits, \
             permessage-deflate; client_max_window_bits"
        );
        // Whichever of the two offers the server takes, the client agrees.
        for (answer, server_bits) in [
            ("permessage-deflate; server_max_window_bits=12", 12),
            ("permessage-deflate; server_max_window_bits=9", 9),
            ("permessage-deflate", 15),
        ] {
            assert_eq!(
                check_answer(&headers(&[answer]), Some(&config)),
                Ok(Some(params(false, false, server_bits, 15))),
                "{answer}"
            );
        }
        let mut custom = config.clone();
        custom.server_max_window_bits = Some(15);
        assert_eq!(offer(&custom), "permessage-deflate; client_max_window_bits");
        custom.server_max_window_bits = None;
        custom.server_no_context_takeover = true;
        custom.client_no_context_takeover = true;
        custom.client_max_window_bits = Some(10);
        assert_eq!(
            offer(&custom),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10"
        );
        custom.client_max_window_bits = None;
        assert_eq!(
            offer(&custom),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn the_client_takes_a_valid_answer() {
        let config = DeflateConfig::default();
        let cases = [
            ("permessage-deflate", params(false, false, 15, 15)),
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
                params(true, false, 10, 15),
            ),
            (
                "PerMessage-Deflate ; client_max_window_bits=\"9\"; client_no_context_takeover",
                params(false, true, 15, 9),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(
                check_answer(&headers(&[answer]), Some(&config)),
                Ok(Some(want)),
                "{answer}"
            );
        }
        assert_eq!(check_answer(&[], Some(&config)), Ok(None));
        assert_eq!(check_answer(&[], None), Ok(None));
    }

    #[test]
    fn the_client_refuses_a_bad_answer() {
        let mut config = DeflateConfig::default();
        let cases = [
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; mystery",
            "permessage-deflate, permessage-deflate",
            "x-webkit-deflate-frame",
        ];
        for answer in cases {
            assert!(
                check_answer(&headers(&[answer]), Some(&config)).is_err(),
                "{answer}"
            );
        }
        assert_eq!(
            check_answer(&headers(&["permessage-deflate"]), None),
            Err("the server chose an extension that was not offered")
        );
        config.client_max_window_bits = None;
        assert_eq!(
            check_answer(
                &headers(&["permessage-deflate; client_max_window_bits=12"]),
                Some(&config)
            ),
            Err("the server set client_max_window_bits, which was not offered")
        );
        config.server_no_context_takeover = true;
        assert_eq!(
            check_answer(&headers(&["permessage-deflate"]), Some(&config)),
            Err("the server ignored the requested server_no_context_takeover")
        );
    }

    #[test]
    fn the_server_takes_the_first_acceptable_offer() {
        let config = DeflateConfig::default();
        let request = headers(&[
            "x-webkit-deflate-frame, permessage-deflate; mystery",
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits, permessage-deflate",
        ]);
        let (agreed, answer) = accept(&request, &config).unwrap();
        assert_eq!(agreed, params(false, false, 9, 15));
        assert_eq!(answer, "permessage-deflate; server_max_window_bits=9");
        // What the server answers, the client takes.
        let client = DeflateConfig {
            client_max_window_bits: Some(15),
            ..DeflateConfig::default()
        };
        assert_eq!(
            check_answer(&headers(&[&answer]), Some(&client)),
            Ok(Some(agreed))
        );
    }

    #[test]
    fn the_server_applies_its_own_limits() {
        let config = DeflateConfig {
            client_max_window_bits: Some(10),
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        let (agreed, answer) = accept(
            &headers(&["permessage-deflate; client_max_window_bits"]),
            &config,
        )
        .unwrap();
        assert_eq!(agreed, params(true, true, 15, 10));
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10"
        );
        // A client that cannot limit its window keeps the full one.
        let (agreed, answer) = accept(&headers(&["permessage-deflate"]), &config).unwrap();
        assert_eq!(agreed.client_max_window_bits, 15);
        assert!(!answer.contains("client_max_window_bits"));
        // A client asking for a window limit gets the smaller of its and ours; one that
        // asks nothing gets the full window.
        let config = DeflateConfig {
            server_max_window_bits: Some(11),
            ..DeflateConfig::default()
        };
        let (agreed, answer) = accept(
            &headers(&["permessage-deflate; server_max_window_bits=13"]),
            &config,
        )
        .unwrap();
        assert_eq!(agreed.server_max_window_bits, 11);
        assert_eq!(answer, "permessage-deflate; server_max_window_bits=11");
        let odd = DeflateConfig {
            server_max_window_bits: Some(3),
            ..config.clone()
        };
        let (agreed, _) = accept(
            &headers(&["permessage-deflate; server_max_window_bits=13"]),
            &odd,
        )
        .unwrap();
        assert_eq!(agreed.server_max_window_bits, 8);
        let (agreed, answer) = accept(&headers(&["permessage-deflate"]), &config).unwrap();
        assert_eq!(agreed.server_max_window_bits, 15);
        assert_eq!(answer, "permessage-deflate");
        let config = DeflateConfig {
            client_max_window_bits: Some(10),
            ..DeflateConfig::default()
        };
        // A client that limits itself below our limit keeps its own.
        let (agreed, answer) = accept(
            &headers(&["permessage-deflate; client_max_window_bits=9"]),
            &config,
        )
        .unwrap();
        assert_eq!(agreed.client_max_window_bits, 9);
        assert!(!answer.contains("client_max_window_bits"));
    }

    #[test]
    fn the_server_declines_bad_offers_and_when_off() {
        let config = DeflateConfig::default();
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=20",
            "permessage-deflate; foo=1",
            "deflate-frame",
        ] {
            assert_eq!(accept(&headers(&[offer]), &config), None, "{offer}");
        }
        assert_eq!(
            accept(&headers(&["permessage-deflate"]), &config).is_some(),
            cfg!(feature = "deflate")
        );
        let mut off = config.clone();
        off.enabled = false;
        assert_eq!(accept(&headers(&["permessage-deflate"]), &off), None);
        assert_eq!(accept(&[], &config), None);
    }
}
