//! The built-in agent of the mock demo: a trip-planning assistant that makes 20 tool calls in
//! 9 responses (most of them parallel), each with a reasoning item and arguments streamed in
//! several deltas, then streams a final plan. Where a person would say what they are about to
//! do, a response opens with a short commentary message (`phase: "commentary"`) before its
//! calls. The calls match [`TripTools`](crate::tools::TripTools).

use std::time::Duration;

use responses_ws_core::mock::{Script, ScriptedCall, ScriptedCommentary, Turn};

/// The user's request.
pub(crate) const PROMPT: &str = "Plan a 4-day trip from Berlin to Lisbon for two people, \
     14-18 May 2026: flights, a hotel in the old town, the weather, and a few things to do. \
     Keep it under 1800 EUR.";

/// The system instructions.
pub(crate) const INSTRUCTIONS: &str = "You are a travel planner. Use the tools to check every \
     fact, call independent tools in parallel, then answer with a short day-by-day plan and a \
     budget.";

/// The final answer the mock streams.
pub(crate) const FINAL_ANSWER: &str = "Here is your Lisbon plan (14-18 May, 2 people):\n\
     - Flights: TP direct BER→LIS on the 14th, back on the 18th; cabin bags included.\n\
     - Hotel: Casa Alfama, 4 nights, free cancellation until 7 May.\n\
     - Weather: 19-26 °C, mostly sunny; pack a light jacket for the evenings.\n\
     Day 1: arrive, metro to Alfama, fado night.\n\
     Day 2: Belém: Jerónimos Monastery (open 10:00, closed Mondays), pastéis, Belém Tower.\n\
     Day 3: São Jorge Castle, Tram 28, sunset at Senhora do Monte.\n\
     Day 4: Time Out Market, Santa Justa Lift, fly home.\n\
     Budget: about 1,540 EUR in total (770 EUR per person), under your 1,800 EUR limit.";

fn call(name: &str, arguments: &str) -> ScriptedCall {
    // Roughly one delta per 12 bytes, as a model streams them.
    let deltas = u32::try_from(arguments.len() / 12).unwrap_or(1).clamp(2, 8);
    ScriptedCall::new(name, arguments).with_deltas(deltas)
}

fn step(calls: impl IntoIterator<Item = ScriptedCall>, reasoning: &str) -> Turn {
    Turn::tool_calls(calls).with_reasoning(reasoning)
}

/// A commentary message, streamed about two words a delta.
fn commentary(text: &str) -> ScriptedCommentary {
    let words = text.split_whitespace().count();
    let deltas = u32::try_from(words.div_ceil(2)).unwrap_or(1).max(1);
    ScriptedCommentary::new(text).with_deltas(deltas)
}

/// The demo script; `pace` is the time before each streamed delta.
pub(crate) fn script(pace: Duration) -> Script {
    Script::new()
        .turn(step(
            [
                call(
                    "search_flights",
                    r#"{"origin":"BER","destination":"LIS","date":"2026-05-14","passengers":2}"#,
                ),
                call(
                    "search_flights",
                    r#"{"origin":"LIS","destination":"BER","date":"2026-05-18","passengers":2}"#,
                ),
                call(
                    "get_weather_forecast",
                    r#"{"city":"Lisbon","start_date":"2026-05-14","days":4}"#,
                ),
            ],
            "gAAAAB-plan-flights-weather",
        )
        .with_commentary(commentary(
            "Let me check the flights both ways and the weather for your dates.",
        )))
        .turn(step(
            [call("get_fare_details", r#"{"flight":"TP527"}"#)],
            "gAAAAB-check-fare",
        ))
        .turn(step(
            [
                call(
                    "search_hotels",
                    r#"{"city":"Lisbon","district":"Alfama","nights":4,"guests":2}"#,
                ),
                call(
                    "search_hotels",
                    r#"{"city":"Lisbon","district":"Baixa","nights":4,"guests":2}"#,
                ),
                call(
                    "search_hotels",
                    r#"{"city":"Lisbon","district":"Chiado","nights":4,"guests":2}"#,
                ),
            ],
            "gAAAAB-hotels",
        )
        .with_commentary(commentary(
            "Flights look good. Now hotels: Alfama, Baixa and Chiado.",
        )))
        .turn(step(
            [
                call("get_hotel_reviews", r#"{"hotel":"Casa Alfama"}"#),
                call("get_hotel_reviews", r#"{"hotel":"Pátio Baixa"}"#),
            ],
            "gAAAAB-reviews",
        ))
        .turn(step(
            [
                call(
                    "find_activities",
                    r#"{"city":"Lisbon","interest":"history"}"#,
                ),
                call("find_activities", r#"{"city":"Lisbon","interest":"food"}"#),
                call(
                    "find_activities",
                    r#"{"city":"Lisbon","interest":"viewpoints"}"#,
                ),
                call(
                    "get_opening_hours",
                    r#"{"place":"Jerónimos Monastery","date":"2026-05-15"}"#,
                ),
            ],
            "gAAAAB-activities",
        )
        .with_commentary(commentary(
            "Casa Alfama has the best reviews. Next, things to do.",
        )))
        .turn(step(
            [
                call(
                    "estimate_travel_time",
                    r#"{"from":"LIS airport","to":"Alfama","mode":"metro"}"#,
                ),
                call(
                    "estimate_travel_time",
                    r#"{"from":"Alfama","to":"Belém","mode":"tram"}"#,
                ),
            ],
            "gAAAAB-travel",
        ))
        .turn(step(
            [call(
                "check_availability",
                r#"{"hotel":"Casa Alfama","check_in":"2026-05-14","nights":4}"#,
            )],
            "gAAAAB-availability",
        ))
        .turn(step(
            [
                call(
                    "get_local_events",
                    r#"{"city":"Lisbon","date":"2026-05-14"}"#,
                ),
                call(
                    "convert_currency",
                    r#"{"amount":1540,"from":"EUR","to":"USD"}"#,
                ),
                call(
                    "get_local_events",
                    r#"{"city":"Lisbon","date":"2026-05-16"}"#,
                ),
            ],
            "gAAAAB-events",
        ))
        .turn(step(
            [call(
                "calculate_budget",
                r#"{"flights_eur":612,"hotel_eur":748,"activities_eur":180,"people":2}"#,
            )],
            "gAAAAB-budget",
        )
        .with_commentary(commentary("Let me add up the budget.")))
        .turn(Turn::text(FINAL_ANSWER, 90).with_reasoning("gAAAAB-final"))
        .with_delta_delay(pace)
}

/// Tool calls the script makes.
#[cfg(test)]
pub(crate) fn tool_calls(script: &Script) -> usize {
    script
        .turns
        .iter()
        .map(|turn| match turn {
            Turn::ToolCalls { calls, .. } => calls.len(),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{Toolbox, TripTools};
    use responses_ws_core::wire::Tool;

    #[test]
    fn twenty_calls_of_declared_tools() {
        let script = script(Duration::ZERO);
        assert_eq!(tool_calls(&script), 20);
        let declared: Vec<String> = TripTools
            .declarations()
            .into_iter()
            .filter_map(|tool| match tool {
                Tool::Function(function) => Some(function.name),
                _ => None,
            })
            .collect();
        for turn in &script.turns {
            if let Turn::ToolCalls { calls, .. } = turn {
                for call in calls {
                    assert!(declared.contains(&call.name), "{}", call.name);
                    let _: serde_json::Value = serde_json::from_str(&call.arguments).unwrap();
                }
            }
        }
        let commented = script
            .turns
            .iter()
            .filter(|turn| {
                matches!(
                    turn,
                    Turn::ToolCalls {
                        commentary: Some(_),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(commented, 4);
        // The JSON form round-trips (it is what `responses-ws mock --script` reads).
        assert_eq!(Script::from_json(&script.to_json()).unwrap(), script);
    }
}
