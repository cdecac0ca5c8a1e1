"""The official OpenAI Python client (`openai[realtime]`) against our mock server.

Usage: openai_client.py HTTP_BASE   (e.g. http://127.0.0.1:PORT/v1)

Runs a tool loop over `client.responses.connect()` the way the SDK's own websocket example
does: create, collect the function calls of each completed response, answer them with
`function_call_output` items chained by `previous_response_id`, until a response makes no call.
Prints one JSON line: {"final_text": ..., "turns": N, "tool_calls": N, "event_types": [...]}.
Exits non-zero on an `error` event or a failed response.
"""

import json
import sys

from openai import OpenAI

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


def weather(arguments: str) -> str:
    city = json.loads(arguments or "{}").get("city", "")
    return json.dumps({"city": city, "temp_c": len(city) * 3, "sky": "clear"})


def main() -> int:
    client = OpenAI(api_key="sk-test-not-a-real-key", base_url=sys.argv[1])
    turns = calls_made = 0
    event_types = set()
    final_text = None
    with client.responses.connect() as connection:
        connection.response.create(
            model="mock-model", store=False, tools=TOOLS, input="Is it warmer in Paris or in Tokyo?"
        )
        while final_text is None:
            for event in connection:
                event_types.add(event.type)
                if event.type == "error":
                    print(f"error event: {event}", file=sys.stderr)
                    return 1
                if event.type in ("response.failed", "response.incomplete"):
                    print(f"response ended {event.type}", file=sys.stderr)
                    return 1
                if event.type in ("response.completed", "response.done"):
                    break
            turns += 1
            response = event.response
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                final_text = "".join(
                    part.text
                    for item in response.output
                    if item.type == "message"
                    for part in item.content
                    if part.type == "output_text"
                )
                break
            calls_made += len(calls)
            connection.response.create(
                model="mock-model",
                store=False,
                tools=TOOLS,
                previous_response_id=response.id,
                input=[
                    {"type": "function_call_output", "call_id": call.call_id, "output": weather(call.arguments)}
                    for call in calls
                ],
            )
    print(json.dumps({"final_text": final_text, "turns": turns, "tool_calls": calls_made,
                      "event_types": sorted(event_types)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
