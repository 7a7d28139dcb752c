"""The demo's three agents — a dental clinic, a restaurant, an IT help desk — as data: fields,
knowledge, tools and evaluation suites. Three businesses so that nothing in the offline agent is
tuned to one script; `agents.demo` seeds them, `learning.quality` evaluates them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.models import AgentStatus

# Offline providers: the demo answers calls with no account or network access.
# The demo ends turns on the caller's words (`smart_end_of_turn`; new agents start with it off):
# answers ~300 ms sooner, measured with its cut-offs in docs/quality.md. Stated, so a re-seed
# puts back what an experiment (make eval's silence-only calls) changed.
_OFFLINE = {"stt_provider": "pocketsphinx", "llm_provider": "offline", "tts_provider": "hibari",
            "language": "en-US", "status": AgentStatus.LIVE, "smart_end_of_turn": True}
_HTTP_TOOL = {"kind": "http", "method": "POST", "auth_type": "hmac_sha256", "timeout_ms": 5000}


@dataclass(frozen=True)
class DemoAgent:
    key: str  # names its evaluation set (learning/quality/sets/<key>.txt)
    name: str
    number: str
    fields: dict[str, Any]
    knowledge: list[dict[str, str]]
    tools: list[dict[str, Any]]  # each with "path": where on this server the demo tool posts
    scenarios: list[dict[str, Any]] = field(default_factory=list)


DENTAL = DemoAgent(
    key="dental", name="Demo Receptionist", number="+15550100000",
    fields={
        **_OFFLINE,
        "greeting": "Hello, thanks for calling Demo Dental. How can I help you today?",
        "system_prompt": (
            "You are the friendly receptionist of Demo Dental, a small dental clinic. Answer "
            "questions about opening hours, location, prices, parking and appointments in one or "
            "two short sentences, as you would on the phone. If you do not know, say so and "
            "offer to take a message. Never give medical advice."),
        "timezone": "America/New_York",
        "business_hours": "Mon-Fri 09:00-17:00; Sat 09:00-13:00",
        # What the clinic's callers talk about, as the clinic would list it.
        "recognition_keywords": [
            "tooth", "teeth", "toothache", "gums", "check-up", "cleaning", "filling", "crown",
            "root canal", "teeth whitening", "braces", "x-ray", "dentist", "hygienist", "insurance",
            "emergency", "appointment", "Demo Dental"],
        # Reminder campaigns (`manage.py campaign_demo`): {{name}} is the row's name.
        "outbound_greeting": "Hi {{name}}, this is Demo Dental calling. You are due for a "
                             "check-up. Would you like to book an appointment?",
        "voicemail_message": "Hi {{name}}, this is Demo Dental. You are due for a check-up: "
                             "please call us back to book a time. Goodbye!",
        # After each call (learning/): judged against this, the booking time extracted.
        "success_criteria": "An appointment is booked.",
        "extraction_schema": {"type": "object", "properties": {
            "when": {"type": "string", "description": "When the booked appointment is."}}},
    },
    knowledge=[
        {"question": "What are your opening hours?",
         "answer": "We are open Monday to Friday from nine to five, and Saturday from nine to "
                   "one."},
        {"question": "Where are you located? What is your address?",
         "answer": "We are at 12 Main Street, Springfield, next to the post office."},
        {"question": "How much does a check-up cost? What are your prices?",
         "answer": "A check-up is 60 dollars, a cleaning is 90 dollars, and a filling starts at "
                   "120."},
        {"question": "Is there parking?",
         "answer": "Yes, there is free parking behind the building."},
        {"question": "How do I book or cancel an appointment?",
         "answer": "I can take your name and a preferred time now, and please give us a day's "
                   "notice to cancel."},
        {"question": "Do you take insurance?",
         "answer": "We accept most major dental insurance plans, and we can check yours before "
                   "your visit."},
        {"question": "Are you taking new patients?",
         "answer": "Yes, we are happy to welcome new patients."},
    ],
    tools=[{
        **_HTTP_TOOL, "path": "/demo/calendar/bookings/",
        "name": "book_appointment", "description": "Book an appointment at the clinic.",
        "parameters": {
            "type": "object",
            "properties": {"when": {"type": "string", "format": "date-time",
                                    "description": "the day and time you would like to come in"}},
            "required": ["when"],
        },
        "trigger_phrases": ["book an appointment", "make an appointment", "schedule a visit",
                            "see the dentist", "book a check-up"],
        "idempotent": False, "filler_text": "One moment while I book that.",
    }],
    scenarios=[
        {"name": "Answers the opening hours", "caller_lines": ["What are your opening hours?"],
         "checks": [{"type": "reply_contains", "text": "Monday to Friday"}]},
        {"name": "Books an appointment",
         "caller_lines": ["I would like to book an appointment.",
                          "Next Tuesday at ten in the morning.", "Yes, please."],
         "checks": [{"type": "tool_called", "name": "book_appointment",
                     "arguments": {"when": "T10:00:00"}}, {"type": "max_turns", "turns": 3}]},
        {"name": "Asks again for a time that is not one",
         "caller_lines": ["I'd like to make an appointment.", "Banana.", "Wednesday at two.",
                          "Yes."],
         "checks": [{"type": "reply_contains", "text": "didn't catch a day or time"},
                    {"type": "tool_called", "name": "book_appointment",
                     "arguments": {"when": "T14:00:00"}}]},
        {"name": "Offers a visit for a toothache", "caller_lines": ["My tooth really hurts."],
         "checks": [{"type": "reply_contains", "text": "sorry to hear"}]},
        # Checked by words the transcript keeps: a call's stored turns hide street addresses.
        {"name": "Knows where the clinic is", "caller_lines": ["Where are you located?"],
         "checks": [{"type": "reply_contains", "text": "next to the post office"}]},
        {"name": "Ends the call on goodbye", "caller_lines": ["Thank you, goodbye."],
         "checks": [{"type": "ends_call"}]},
        {"name": "Offers a person to cancel", "caller_lines": ["I need to cancel my appointment.",
                                                           "Yes, please."],
         "checks": [{"type": "reply_contains", "text": "not able to cancel"},
                    {"type": "transfers"}]},
        {"name": "Refuses a Sunday", "caller_lines": ["Can I come in on Sunday at ten?"],
         "checks": [{"type": "reply_contains", "text": "closed on Sundays"}]},
        {"name": "Takes a change at the read-back",
         "caller_lines": ["I'd like to book a check-up for Thursday at eleven.",
                          "No, make it Friday at two.", "Yes."],
         "checks": [{"type": "reply_contains", "text": "Just to confirm"},
                    {"type": "tool_called", "name": "book_appointment",
                     "arguments": {"when": "T14:00:00"}}]},
        {"name": "Asks the time of a day", "caller_lines": ["I'd like an appointment.", "Monday.",
                                                          "At half past nine.", "Yes."],
         "checks": [{"type": "reply_contains", "text": "What time on Monday"},
                    {"type": "tool_called", "name": "book_appointment",
                     "arguments": {"when": "T09:30:00"}}]},
        {"name": "Says when it has no answer", "caller_lines": ["Do you sell concert tickets?"],
         "checks": [{"type": "reply_contains", "text": "don't have an answer"}]},
        {"name": "Transfers on request", "caller_lines": ["Can I speak to a real person?"],
         "checks": [{"type": "transfers"}]},
    ],
)

RESTAURANT = DemoAgent(
    key="restaurant", name="Demo Bistro", number="+15550100001",
    fields={
        **_OFFLINE,
        "greeting": "Good day, you've reached Demo Bistro. How can I help?",
        "system_prompt": (
            "You take reservations and answer questions for Demo Bistro, a neighbourhood "
            "restaurant. Be warm and brief. Tables are for one to twelve guests; larger parties "
            "and private events go to the manager."),
        "timezone": "America/New_York",
        "business_hours": "Tue-Sun 12:00-15:00 17:30-22:00",
        # What the restaurant's callers talk about, as the restaurant would list it.
        "recognition_keywords": [
            "table", "reservation", "menu", "lunch", "dinner", "vegan", "vegetarian",
            "gluten free", "allergy", "birthday", "terrace", "private room", "high chair",
            "parking", "wine", "dessert", "seafood", "marina"],
        "success_criteria": "A table is reserved.",
        "extraction_schema": {"type": "object", "properties": {
            "when": {"type": "string", "description": "When the table is booked for."},
            "party_size": {"type": "integer", "description": "How many guests."}}},
    },
    knowledge=[
        {"question": "When are you open?",
         "answer": "We serve lunch from noon to three and dinner from half past five to ten, "
                   "Tuesday to Sunday. We are closed on Mondays."},
        {"question": "Where is the restaurant?",
         "answer": "We are at 48 Harbour Road, across from the marina."},
        {"question": "Do you have vegetarian or vegan dishes?",
         "answer": "Yes, about half of the menu is vegetarian and there are always three vegan "
                   "dishes."},
        {"question": "Can you cater for gluten free or allergies?",
         "answer": "Yes, tell your server about any allergy; most dishes can be made gluten "
                   "free."},
        {"question": "Is there parking near the restaurant?",
         "answer": "There is a public car park on Harbour Road, two minutes' walk away."},
        {"question": "Do you host private events or large groups?",
         "answer": "Our private room seats up to thirty; the manager arranges events."},
        {"question": "Do you have a kids menu?",
         "answer": "Yes, there is a children's menu and high chairs."},
        {"question": "How much does a meal cost?",
         "answer": "Mains are between eighteen and thirty two dollars."},
    ],
    tools=[{
        **_HTTP_TOOL, "path": "/demo/calendar/bookings/",
        "name": "book_table", "description": "Reserve a table at the restaurant.",
        "parameters": {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time",
                         "description": "the day and time of the reservation"},
                "party_size": {"type": "integer", "minimum": 1, "maximum": 12,
                               "description": "number of guests"},
                "name": {"type": "string", "description": "the name for the booking"},
            },
            "required": ["when", "party_size", "name"],
        },
        "trigger_phrases": ["book a table", "reserve a table", "make a reservation",
                            "table for"],
        "idempotent": False, "filler_text": "One moment while I reserve that.",
    }],
    scenarios=[
        {"name": "Reserves a table",
         "caller_lines": ["I'd like to book a table for four on Friday at seven.", "Sam Lee.",
                          "Yes."],
         "checks": [{"type": "tool_called", "name": "book_table",
                     "arguments": {"when": "T19:00:00", "name": "Sam Lee"}}]},
        {"name": "Refuses a Monday", "caller_lines": ["Can I reserve a table on Monday at 8 pm?"],
         "checks": [{"type": "reply_contains", "text": "closed on Mondays"}]},
        {"name": "Answers about vegan food", "caller_lines": ["Do you have anything vegan?"],
         "checks": [{"type": "reply_contains", "text": "three vegan"}]},
        {"name": "Puts a complaint through to a person",
         "caller_lines": ["I want to complain about my meal last night.", "Yes please."],
         "checks": [{"type": "transfers"}]},
        {"name": "Ends the call on goodbye", "caller_lines": ["That's all, bye."],
         "checks": [{"type": "ends_call"}]},
        {"name": "Asks the party size and the name",
         "caller_lines": ["Can I book a table for Saturday at eight?", "Four people.",
                          "Alex Kim.", "Yes, please."],
         "checks": [{"type": "tool_called", "name": "book_table",
                     "arguments": {"when": "T20:00:00", "party_size": "4",
                                   "name": "Alex Kim"}}]},
        {"name": "Knows where it is", "caller_lines": ["Where are you?"],
         "checks": [{"type": "reply_contains", "text": "across from the marina"}]},
        {"name": "Offers a person to cancel",
         "caller_lines": ["We need to cancel our reservation."],
         "checks": [{"type": "reply_contains", "text": "put you through"}]},
        {"name": "Refuses a time between lunch and dinner",
         "caller_lines": ["A table for two on Friday at four, please."],
         "checks": [{"type": "reply_contains", "text": "closed at that time"}]},
        {"name": "Answers about parking", "caller_lines": ["Is there parking nearby?"],
         "checks": [{"type": "reply_contains", "text": "car park"}]},
        {"name": "Books a table for one",
         "caller_lines": ["A table for one on Sunday at one.", "Jo Park.", "Yes."],
         "checks": [{"type": "tool_called", "name": "book_table",
                     "arguments": {"party_size": "1", "when": "T13:00:00"}}]},
    ],
)

HELP_DESK = DemoAgent(
    key="helpdesk", name="Demo IT Help Desk", number="+15550100002",
    fields={
        **_OFFLINE,
        "greeting": "IT help desk, how can I help you today?",
        "system_prompt": (
            "You are the first line of Demo Corp's IT help desk. Answer how-to questions from "
            "the knowledge, open a ticket for anything broken, and never ask for a password."),
        "timezone": "America/New_York",
        "business_hours": "Mon-Fri 08:00-18:00",
        # The equipment and systems the help desk supports, as it would list them.
        "recognition_keywords": [
            "laptop", "desktop", "monitor", "screen", "keyboard", "mouse", "printer", "headset",
            "docking station", "VPN", "wifi", "network", "internet", "Outlook", "Teams", "email",
            "password", "account", "Software Center", "Demo Connect"],
        "success_criteria": "A ticket is opened or the question is answered.",
        "extraction_schema": {"type": "object", "properties": {
            "problem": {"type": "string", "description": "What is broken, in a few words."}}},
    },
    knowledge=[
        {"question": "How do I reset my password?",
         "answer": "Go to password dot demo corp dot com from any browser and follow the steps; "
                   "you will need your phone for the code."},
        {"question": "How do I connect to the VPN?",
         "answer": "Open the Demo Connect app, sign in with your work account and press "
                   "connect."},
        {"question": "What is the guest wifi?",
         "answer": "Guests use the network Demo Guest; the password is on the card at "
                   "reception."},
        {"question": "How do I set up email on my phone?",
         "answer": "Install the Outlook app and sign in with your work email; it sets itself "
                   "up."},
        {"question": "How do I add a printer?",
         "answer": "Open Settings, then Printers, and pick the printer named after your floor."},
        {"question": "When is the help desk open?",
         "answer": "We answer calls Monday to Friday from eight to six."},
        {"question": "How do I request new software?",
         "answer": "Request it in the Software Center; most apps install within an hour."},
    ],
    tools=[{
        **_HTTP_TOOL, "path": "/demo/helpdesk/tickets/",
        "name": "create_ticket", "description": "Open a support ticket for a problem.",
        "parameters": {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "description": "a short description of the problem"},
                "urgency": {"type": "string", "enum": ["low", "normal", "urgent"],
                            "description": "How urgent is it?"},
            },
            "required": ["summary", "urgency"],
        },
        "trigger_phrases": ["open a ticket", "log a ticket", "raise a ticket", "report a problem"],
        "idempotent": False, "filler_text": "One moment while I open that ticket.",
    }],
    scenarios=[
        {"name": "Opens a ticket for a broken laptop",
         "caller_lines": ["My laptop won't turn on.", "Urgent.", "Yes."],
         "checks": [{"type": "tool_called", "name": "create_ticket",
                     "arguments": {"summary": "laptop", "urgency": "urgent"}}]},
        {"name": "Explains the VPN", "caller_lines": ["How do I get on the VPN?"],
         "checks": [{"type": "reply_contains", "text": "Demo Connect"}]},
        {"name": "Explains a password reset", "caller_lines": ["I need to reset my password."],
         "checks": [{"type": "reply_contains", "text": "password dot demo"}]},
        {"name": "Transfers on request", "caller_lines": ["Can I talk to a real person?"],
         "checks": [{"type": "transfers"}]},
        {"name": "Ends the call on goodbye", "caller_lines": ["Thanks, that's it. Bye."],
         "checks": [{"type": "ends_call"}]},
        {"name": "Opens a low-urgency ticket",
         "caller_lines": ["The printer on my floor isn't working.", "Low.", "Yes."],
         "checks": [{"type": "tool_called", "name": "create_ticket",
                     "arguments": {"summary": "printer", "urgency": "low"}}]},
        {"name": "Explains the guest wifi", "caller_lines": ["What's the wifi for visitors?"],
         "checks": [{"type": "reply_contains", "text": "Demo Guest"}]},
        {"name": "Explains email on a phone",
         "caller_lines": ["How do I get my email on my phone?"],
         "checks": [{"type": "reply_contains", "text": "Outlook"}]},
        {"name": "Starts again when the read-back is wrong",
         "caller_lines": ["My screen is frozen.", "Normal.", "No."],
         "checks": [{"type": "reply_contains", "text": "let's fix that"}]},
        {"name": "Asks again for a choice it did not get",
         "caller_lines": ["My mouse stopped working.", "Purple.", "Urgent.", "Yes."],
         "checks": [{"type": "reply_contains", "text": "didn't catch which one"},
                    {"type": "tool_called", "name": "create_ticket",
                     "arguments": {"urgency": "urgent"}}]},
        {"name": "Offers a person after two misses",
         "caller_lines": ["Blorp.", "Flibbertigibbet."],
         "checks": [{"type": "reply_contains", "text": "transfer you"}]},
    ],
)

DEMO_AGENTS = (DENTAL, RESTAURANT, HELP_DESK)
