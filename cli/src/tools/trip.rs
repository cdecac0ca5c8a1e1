//! The mock demo's trip-planning tools: flights, fares, weather, hotels, reviews, activities,
//! opening hours, travel times, currency, availability, events and a budget. Each answers
//! from a hash of its arguments, so the same call always gives the same plausible answer and
//! nothing leaves the machine.

use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::Tool;
use serde_json::{json, Map, Value};

use super::{arguments, error_output, function, unknown_tool, Toolbox};

/// The trip-planning agent's tools.
#[derive(Debug, Default)]
pub(crate) struct TripTools;

/// FNV-1a of `text`: a stable pseudo-random seed.
fn seed(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A number in `low..=high` drawn from `seed` and `salt`.
fn pick(seed: u64, salt: u64, low: u64, high: u64) -> u64 {
    let mixed = (seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)).rotate_left(17);
    low + mixed % (high - low + 1)
}

fn text<'a>(args: &'a Map<String, Value>, name: &str) -> &'a str {
    args.get(name).and_then(Value::as_str).unwrap_or("?")
}

fn number(args: &Map<String, Value>, name: &str) -> f64 {
    args.get(name).and_then(Value::as_f64).unwrap_or(0.0)
}

impl Toolbox for TripTools {
    fn declarations(&self) -> Vec<Tool> {
        vec![
            function(
                "search_flights",
                "Searches flights.",
                &[
                    ("origin", "string"),
                    ("destination", "string"),
                    ("date", "string"),
                    ("passengers", "integer"),
                ],
            ),
            function(
                "get_fare_details",
                "Fare rules and baggage of a flight.",
                &[("flight", "string")],
            ),
            function(
                "get_weather_forecast",
                "Daily forecast for a city.",
                &[
                    ("city", "string"),
                    ("start_date", "string"),
                    ("days", "integer"),
                ],
            ),
            function(
                "search_hotels",
                "Hotels of a district.",
                &[
                    ("city", "string"),
                    ("district", "string"),
                    ("nights", "integer"),
                    ("guests", "integer"),
                ],
            ),
            function(
                "get_hotel_reviews",
                "Review summary of a hotel.",
                &[("hotel", "string")],
            ),
            function(
                "find_activities",
                "Things to do in a city for an interest.",
                &[("city", "string"), ("interest", "string")],
            ),
            function(
                "get_opening_hours",
                "Opening hours of a place.",
                &[("place", "string"), ("date", "string")],
            ),
            function(
                "estimate_travel_time",
                "Door-to-door travel time.",
                &[("from", "string"), ("to", "string"), ("mode", "string")],
            ),
            function(
                "convert_currency",
                "Converts an amount.",
                &[("amount", "number"), ("from", "string"), ("to", "string")],
            ),
            function(
                "check_availability",
                "Room availability of a hotel.",
                &[
                    ("hotel", "string"),
                    ("check_in", "string"),
                    ("nights", "integer"),
                ],
            ),
            function(
                "get_local_events",
                "Events in a city on a date.",
                &[("city", "string"), ("date", "string")],
            ),
            function(
                "calculate_budget",
                "Totals a trip budget in EUR.",
                &[
                    ("flights_eur", "number"),
                    ("hotel_eur", "number"),
                    ("activities_eur", "number"),
                    ("people", "integer"),
                ],
            ),
        ]
    }

    fn run(&mut self, call: &ToolCall) -> String {
        let args = match arguments(call) {
            Ok(args) => args,
            Err(output) => return output,
        };
        let s = seed(&call.arguments);
        let output = match call.name.as_str() {
            "search_flights" => {
                let airline = ["TP", "LH", "FR", "U2"][pick(s, 1, 0, 3) as usize];
                json!({
                    "route": format!("{}-{}", text(&args, "origin"), text(&args, "destination")),
                    "date": text(&args, "date"),
                    "best": {
                        "flight": format!("{airline}{}", pick(s, 2, 100, 999)),
                        "departs": format!("{:02}:{:02}", pick(s, 3, 6, 20), pick(s, 4, 0, 11) * 5),
                        "duration_min": pick(s, 5, 175, 230),
                        "price_eur": pick(s, 6, 89, 260),
                    },
                    "alternatives": pick(s, 7, 2, 9),
                })
            }
            "get_fare_details" => json!({
                "flight": text(&args, "flight"),
                "cabin_bag_kg": 8,
                "checked_bag_eur": pick(s, 1, 25, 45),
                "refundable": pick(s, 2, 0, 1) == 1,
                "seat_selection_eur": pick(s, 3, 6, 15),
            }),
            "get_weather_forecast" => {
                let days = (number(&args, "days") as u64).clamp(1, 7);
                let daily: Vec<Value> = (0..days)
                    .map(|day| {
                        let sky = ["sunny", "partly cloudy", "sunny", "showers"]
                            [pick(s, 10 + day, 0, 3) as usize];
                        json!({ "day": day + 1, "high_c": pick(s, 20 + day, 19, 26), "sky": sky })
                    })
                    .collect();
                json!({ "city": text(&args, "city"), "from": text(&args, "start_date"), "daily": daily })
            }
            "search_hotels" => {
                let district = text(&args, "district");
                let name = ["Casa", "Palácio", "Pátio", "Janelas"][pick(s, 1, 0, 3) as usize];
                json!({
                    "district": district,
                    "top": format!("{name} {district}"),
                    "per_night_eur": pick(s, 2, 95, 210),
                    "rating": pick(s, 3, 82, 96) as f64 / 10.0,
                    "options": pick(s, 4, 4, 25),
                })
            }
            "get_hotel_reviews" => {
                let praised = ["location", "breakfast", "quiet rooms"][pick(s, 2, 0, 2) as usize];
                let complaint =
                    ["small lift", "street noise", "steep stairs"][pick(s, 3, 0, 2) as usize];
                json!({
                    "hotel": text(&args, "hotel"),
                    "reviews": pick(s, 1, 180, 2400),
                    "praised": praised,
                    "complaint": complaint,
                })
            }
            "find_activities" => {
                let interest = text(&args, "interest");
                let ideas: &[&str] = match interest {
                    "history" => &["Jerónimos Monastery", "São Jorge Castle", "Belém Tower"],
                    "food" => &[
                        "Time Out Market",
                        "pastéis in Belém",
                        "tasca dinner in Alfama",
                    ],
                    _ => &[
                        "Miradouro da Senhora do Monte",
                        "Tram 28",
                        "Santa Justa Lift",
                    ],
                };
                json!({ "interest": interest, "ideas": ideas, "avg_price_eur": pick(s, 1, 0, 20) })
            }
            "get_opening_hours" => json!({
                "place": text(&args, "place"),
                "date": text(&args, "date"),
                "open": "10:00",
                "close": format!("{}:30", pick(s, 1, 17, 18)),
                "closed_mondays": true,
            }),
            "estimate_travel_time" => json!({
                "from": text(&args, "from"),
                "to": text(&args, "to"),
                "mode": text(&args, "mode"),
                "minutes": pick(s, 1, 12, 48),
            }),
            "convert_currency" => {
                let amount = number(&args, "amount");
                let rate = 1.0 + pick(s, 1, 40, 120) as f64 / 1000.0;
                json!({
                    "amount": amount,
                    "from": text(&args, "from"),
                    "to": text(&args, "to"),
                    "rate": rate,
                    "result": (amount * rate * 100.0).round() / 100.0,
                })
            }
            "check_availability" => json!({
                "hotel": text(&args, "hotel"),
                "check_in": text(&args, "check_in"),
                "rooms_left": pick(s, 1, 1, 6),
                "free_cancellation_until": "2026-05-07",
            }),
            "get_local_events" => json!({
                "city": text(&args, "city"),
                "date": text(&args, "date"),
                "events": ["Fado night at Clube de Fado", "Santos Populares warm-up street party"],
            }),
            "calculate_budget" => {
                let people = number(&args, "people").max(1.0);
                let total = number(&args, "flights_eur")
                    + number(&args, "hotel_eur")
                    + number(&args, "activities_eur");
                json!({ "total_eur": total, "per_person_eur": (total / people * 100.0).round() / 100.0 })
            }
            other => return unknown_tool(other),
        };
        if output.is_null() {
            return error_output("no answer");
        }
        output.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use responses_ws_core::session::ToolCallKind;

    #[test]
    fn every_tool_answers_the_same_call_the_same_way() {
        let mut tools = TripTools;
        for tool in tools.declarations() {
            let Tool::Function(function) = tool else {
                panic!("not a function tool");
            };
            let call = ToolCall {
                call_id: "call_1".into(),
                name: function.name.clone(),
                kind: ToolCallKind::Function,
                arguments: r#"{"city":"Lisbon","days":3,"amount":10,"people":2,"flights_eur":100}"#
                    .into(),
            };
            let first = tools.run(&call);
            assert_eq!(first, tools.run(&call));
            assert!(!first.contains("error"), "{}: {first}", function.name);
        }
    }
}
