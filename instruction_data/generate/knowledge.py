"""Common-sense facts per sound category, for the template (offline) open-ended answers.

`facts_for(labels)` returns the facts of the most specific category among a clip's labels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Facts:
    place: str       # where such a recording is typically made
    cause: str       # what physically produces the sound
    action: str      # what a listener might sensibly do
    next: str        # what might plausibly happen next
    feeling: str     # how it might make someone feel


FACTS: dict[str, Facts] = {
    "bird": Facts("outdoors, in a park, a forest or on a farm", "a bird calling or singing with its syrinx",
                  "stay quiet and look up into the trees to spot the bird",
                  "other birds may answer the call", "calm and close to nature"),
    "insect": Facts("outdoors in warm weather, near flowers or grass", "an insect beating its wings or rubbing its legs",
                    "keep away if it could sting, or simply let it pass", "the buzzing may come closer or fade away",
                    "slightly uneasy if the insect is close"),
    "animal": Facts("on a farm, at a zoo or in the wild", "an animal using its voice",
                    "keep a respectful distance and check whether the animal needs anything",
                    "the animal may call again or move away", "curious or amused"),
    "speech": Facts("indoors, near a speaker or a phone", "a person speaking",
                    "listen to the message and respond if it is addressed to you",
                    "the speaker may continue or wait for an answer", "engaged, since someone is talking"),
    "singing": Facts("in a church, a concert hall or a studio", "voices singing together",
                     "listen, or join in if it is a shared song", "the singing will continue into the next phrase",
                     "moved or uplifted"),
    "drum": Facts("in a music studio, a rehearsal room or on stage", "a stick or beater striking a drum skin",
                  "keep time with the beat or dance", "the rhythm will probably continue",
                  "energetic and ready to move"),
    "percussion": Facts("in a music studio or on stage", "an instrument being struck, shaken or scraped",
                        "listen to the rhythm", "more rhythmic hits will likely follow", "lively"),
    "music": Facts("in a studio, a concert or from a speaker", "musical instruments or a synthesizer being played",
                   "enjoy the music or adjust the volume", "the piece will continue with the next phrase",
                   "relaxed or entertained, depending on the style"),
    "alarm": Facts("in a home, an office or on a street", "an alarm or siren designed to get attention",
                   "check what triggered it and act on it: leave, make way or switch it off",
                   "it will keep sounding until someone responds", "alert and a little stressed"),
    "vehicle": Facts("on a road, at a station or near an airfield", "an engine and moving machinery",
                     "stay aware of traffic and keep a safe distance", "the vehicle will pass by or stop",
                     "alert, since vehicles can be dangerous"),
    "household appliance": Facts("at home, in a kitchen or a utility room", "an electric appliance running",
                                 "wait for it to finish or check that it works properly",
                                 "the appliance will finish its cycle and stop", "calm, it is a domestic sound"),
    "tool": Facts("in a workshop, a garage or a building site", "a hand tool striking or cutting material",
                  "wear ear and eye protection nearby", "more strikes or cuts will follow as the work goes on",
                  "focused, it sounds like work in progress"),
    "water": Facts("near a sink, a bathroom, a pond or outside in the rain", "water moving, falling or splashing",
                   "check for leaks if it is indoors and unexpected", "the water will keep flowing or dripping",
                   "relaxed"),
    "weather": Facts("outdoors during bad weather", "rain, wind or thunder",
                     "find shelter and stay away from open ground during a storm", "the storm may get stronger or pass",
                     "cautious or cozy if indoors"),
    "electronic sound": Facts("near a computer, a phone or an electronic device", "a device's speaker playing a signal",
                              "look at the device to see what it is signalling", "a message or prompt may appear",
                              "attentive"),
    "synthetic tone": Facts("in a lab, a studio or from a test device", "an electronic oscillator",
                            "use it to test equipment or hearing, and keep the volume moderate",
                            "the tone will stop or change frequency", "neutral or slightly irritated if it is long"),
    "noise": Facts("near electronic equipment or a radio between stations", "random fluctuations with no pitch",
                   "turn it down if it is unwanted; it can also mask other sounds", "it will keep hissing until switched off",
                   "neutral, or soothed if used to mask sounds"),
    "human sound": Facts("in a room with people", "a person's body or hands", "pay attention to the people around",
                         "the people may react or continue", "socially engaged"),
    "explosion": Facts("outdoors at a celebration, a quarry or in a film", "a sudden release of energy",
                       "keep a safe distance and protect your ears", "echoes or more bangs may follow", "startled"),
    "impact": Facts("indoors or in a workshop", "objects hitting each other", "check whether something fell or broke",
                    "things may settle or more hits follow", "surprised"),
    "bell": Facts("at a church, a school, a door or a shop", "a bell or chime ringing",
                  "check whether it is calling for your attention", "the ringing will fade out", "attentive"),
    "machine": Facts("in a factory, an office or a workshop", "a machine with moving parts",
                     "keep clear of moving parts and wear ear protection if it is loud",
                     "the machine will keep running until its task is done", "busy or slightly tense"),
}
ORDER = list(FACTS)  # most specific categories first


def facts_for(labels: list[str]) -> tuple[str, Facts] | None:
    """(category, facts) for the first category present in the labels, in ORDER."""
    for category in ORDER:
        if category in labels:
            return category, FACTS[category]
    return None
