"""Whole-utterance intents that need no knowledge: asking for a human, goodbye, cancel, repeat,
thanks, a greeting, a bare no, and keypad entries (`[DTMF 12#]`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

DTMF_ENTRY = re.compile(r"\s*\[\s*DTMF\s*([0-9*#]+)\s*\]\s*", re.IGNORECASE)


def _any(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(rf"(?:\b{p}\b)" for p in patterns))


_PERSON = (r"(?:someone|somebody|anyone|anybody|a person|people|a human|the manager|a manager|"
           r"the (?:it |support )?team|staff|support staff|a member|the front desk|reception|"
           r"the receptionist|a technician|an engineer|the dentist|a doctor|the (?:it )?manager|"
           r"the restaurant|an agent|the office|a human being)")
_HUMAN = _any([
    r"(?:real|live|actual) (?:person|human|people)", r"humans?", r"operators?",
    r"representatives?", r"agent", r"customer (?:service|support)",
    r"member of (?:your |the )?(?:staff|team)",
    rf"(?:speak|talk|chat) (?:to|with) {_PERSON}",
    rf"(?:put|get|transfer|connect|pass|patch) (?:me |us )?(?:through |on |over )?(?:to |with )?"
    rf"{_PERSON}",
    r"transfer (?:me|us)\b", r"put me through",
    rf"(?:leave|pass on|take) a message (?:for|to|with) {_PERSON}",
    r"(?:someone|somebody|anyone|anybody|a person|a human) (?:i|we) (?:can|could) (?:speak|talk)"
    r" (?:to|with)",
])


# Long words only: a fuzzy "operator" would also hear "operate".
_HUMAN_WORDS = ("representative",)


# "Forget me", "delete my data", "don't remember me" (not "forget it": that is CANCEL).
FORGET_ME = _any([
    r"forget (?:me|about me|my (?:number|name|details|information|data))",
    r"(?:delete|erase|remove) (?:all )?(?:my|of my) (?:data|details|information|info|number|"
    r"records?|personal data)",
    r"(?:do not|don't|dont) (?:remember|keep|store) (?:me|my (?:details|information|data))",
])


GOODBYE = _any([
    r"good ?bye", r"bye", r"that is (?:all|it|everything)", r"nothing else", r"hang up",
    r"i am done",
    r"have a (?:good|nice|great|lovely) (?:day|one|morning|afternoon|evening|night|weekend)",
    r"see you",
    r"talk to you later",
])


_CANCEL_PHRASE = r"(?:cancel(?: (?:that|it|this))?|never ?mind|forget (?:it|about it)|stop)"
# The whole utterance is dropping what is in progress, said once or twice over ("never mind,
# cancel that"), after an "oh", "no" or "actually" at most.
CANCEL = re.compile(
    rf"^(?:(?:no|oh|actually|okay|ok) )*{_CANCEL_PHRASE}(?: {_CANCEL_PHRASE})*(?: please)?$"
)


REPEAT = re.compile(
    r"^(?:sorry|pardon|pardon me|what|excuse me)$|\brepeat\b|\bsay (?:that |it )?again\b"
    r"|\bcome again\b|\bwhat did you say\b"
)


THANKS = re.compile(r"^(?:(?:ok|okay|great|perfect) )?(?:thank you|thanks)(?: (?:very much|so "
                     r"much|a lot))?$|^cheers$")


GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?$")


# "Hello, is anyone there?", "Can you hear me?": the caller checks the line (a pause, a delay).
PRESENCE = re.compile(
    r"^(?:(?:hello|hi|hey|um|uh|sorry|oh)\s)*(?:is (?:anyone|anybody|someone|somebody) "
    r"(?:there|here|on the line)|are you (?:still )?(?:there|with me)|can you hear me"
    r"|you there|is this thing on)(?: hello)?$")


# A request for help that says nothing yet of what for: "hi, I need help", "can you help me?".
HELP_REQUEST = re.compile(
    r"^(?:(?:hi|hello|hey|yes|yeah|um|uh)\s)*(?:i need (?:some )?help|i need assistance"
    r"|can you help(?: me)?|could you help(?: me)?|i need some assistance|help)"
    r"(?: (?:please|me))?$")


BARE_NO = re.compile(r"^(?:no|nope|nah)(?: (?:thank you|thanks))?$")


def is_human_request(norm: str) -> bool:
    if _HUMAN.search(norm):
        return True
    # Tolerate misrecognised single words such as "representive".
    return any(
        difflib.get_close_matches(token, _HUMAN_WORDS, n=1, cutoff=0.8)
        for token in norm.split() if len(token) >= 8
    )


# What a caller wants done, read before the knowledge is searched: each names a kind of tool
# (found by its name) or, when the agent has none, an honest answer.
_THING = (r"(?:appointment|appt|booking|reservation|visit|table|check ?up|cleaning|slot|"
          r"session|consultation)s?")
CANCEL_BOOKING = _any([
    rf"cancel\w* (?:(?:my|the|our|a|an|this|that)\s)?(?:\w+\s)?{_THING}",
    rf"(?:call off|scrap|drop) (?:my|the|our) {_THING}",
    r"(?:can not|cannot|will not be able to|not able to|unable to|not going to (?:be able to )?"
    r"|am not going to|will not) (?:make|come|"
    r"attend|keep) (?:in|it|my|the|our)",
    r"(?:cancel\w*|call off) (?:my|the|our|that|this) (?:\w+ )?(?:ticket|request|order)",
    r"please cancel$",
    r"(?:we|i) (?:are|am|will) not (?:be )?(?:coming|making it)",
    rf"{_THING} cancel\w*",
    r"(?:want|need|like|have) to cancel",
])
RESCHEDULE = _any([
    r"re ?schedul\w*", r"re ?book\w*",
    rf"(?:change|move) the (?:time|day|date) of (?:my|the|our) {_THING}",
    rf"{_THING} (?:be )?(?:moved|changed|pushed|brought)",
    r"(?:booked|have an? \w+) (?:for|on) \w+ but (?:i |we )?(?:need|want|have) to (?:change|move)",
    rf"(?:move|change|shift|push|bring|switch|postpone|put off|delay) (?:back )?(?:my|the|our|"
    rf"this|that) (?:\w+\s)?{_THING}",
    rf"{_THING} (?:to|for) (?:a )?(?:different|another|later|earlier) (?:day|time|date)",
    r"(?:different|another|later|earlier) (?:day|time|date) for (?:my|the|our)",
    rf"{_THING} (?:\w+ ){{0,4}}instead",
    r"(?:move|push|postpone|put off|delay|shift) (?:my|the|our|this|that) (?:\w+ ){0,3}(?:to|until|"
    r"till) (?:next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|"
    r"next week|later|another day)",
])
BOOK = _any([
    r"book\w*", r"schedul\w*", r"reserv\w*", r"make an? (?:appointment|reservation|booking)",
    rf"(?:get|have|need|want|like|set up|arrange|fit me in for|squeeze me in for) "
    rf"(?:an? |me an? |in an? |for an? )?(?:new )?{_THING}",
    r"(?:come|pop|get) in (?:for|to|on|at|tomorrow|today|next|this|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday)", r"fit (?:me|us) in", r"fit in (?:a|an)",
    r"squeeze (?:me|us) in", r"pencil (?:me|us) in", r"(?:book|get) (?:me|us) in",
    r"see (?:the|a) (?:dentist|doctor|hygienist)", r"table for",
    r"put (?:me|us) down for", r"room for (?:\w+ )?(?:people|of us|\d+|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|eleven|twelve)",
    r"(?:come|coming) (?:in )?for (?:dinner|lunch|a meal|brunch)",
    r"(?:any|have you got|do you have) (?:openings|availability|free slots|slots|room)",
    rf"(?:have you got|do you have|are there)(?: any)? (?:free )?{_THING}(?: free| available| left"
    rf"| open)",
    r"(?:have you got|do you have|is there) (?:anything|something) (?:available|free|open)",
])
# A symptom, a fault or a complaint: something is wrong for the caller.
PROBLEM = _any([
    r"hurts?", r"hurting", r"pain\w*", r"ache\w*", r"aching", r"sore", r"bleed\w*", r"swollen",
    r"swelling", r"broke(?:n)?", r"chipped", r"cracked", r"toothache", r"emergency",
    r"sensitive", r"abscess", r"agony", r"throbbing", r"killing me",
    r"lost (?:a|my) (?:filling|crown|tooth)", r"fell out",
    r"(?:is|are|not|stopped|keeps?) (?:not )?working", r"(?:does|do|did) not work",
    r"(?:will|would) not (?:start|turn on|boot|connect|load|open|print|sync|let me|charge)",
    r"(?:can not|cannot|unable to|not able to) (?:log ?in|sign in|connect|access|print|open|"
    r"get into|send|receive|see|hear)", r"crash\w*", r"error\w*", r"frozen", r"freez\w*",
    r"(?:very |really |so |too |super )slow", r"locked out", r"blue screen", r"virus",
    r"hacked", r"phishing", r"no internet", r"keeps? (?:dropping|disconnecting|restarting)",
    r"(?:is|are|went|has gone|have gone) down", r"outage", r"problem with", r"issue with",
    r"something wrong", r"went wrong",
    r"(?:is|are) not (?:showing|displaying|responding|charging|loading|turning on|coming on|"
    r"syncing|connecting|printing|opening|updating|sending|receiving|starting|booting)",
    r"spil(?:led|t)", r"faulty", r"(?:log|report|raise) (?:a|an) (?:fault|issue|problem)",
    r"fault with", r"lump", r"(?:got|is|was|has been|have been|am) locked",
    r"(?:dodgy|suspicious|strange|weird|fake) (?:link|email|message)", r"scam",
    r"(?:need|want) (?:access|permission) to",
    r"(?:look at|have a look at|take a look at) my (?!(?:appointment|booking|table|order|ticket|"
    r"bill|account)\b)\w+", r"(?:on|in) my (?:tooth|teeth|gums?|jaw)\b(?!.*\b(?:clean\w*|whiten\w*|"
    r"check ?up|book\w*|appointment|cost|price)\b)",
    r"(?:have|got|having) (?:a|an|some) (?:problem|issue)",
    # What the recogniser leaves of a report when it mishears its last word ("my tooth really
    # her[ts]") or the negation ("the printer on my floor even [isn't] working"): a statement
    # about the caller's tooth or thing is one.
    r"^my (?:tooth|teeth|gums?|jaw|filling|crown)(?!.*\b(?:clean\w*|whiten\w*|check ?up|book\w*|"
    r"appointment|cost|price)\b)",
    r"^(?:the|my|our) \w+(?: \w+){0,5} working$",
])
# A complaint about the service: a person handles it, a booking would not help.
COMPLAINT = _any([
    r"complain\w*", r"unhappy", r"disappointed", r"terrible", r"awful", r"horrible", r"rude",
    r"food poisoning", r"(?:was|were|is) (?:cold|undercooked|overcooked|raw|burnt|wrong)",
    r"wrong order", r"overcharged", r"refund", r"not happy", r"(?:never|not) (?:coming|going) back",
    r"worst", r"(?:got|was|were|been|became|fell) (?:sick|ill)",
])
