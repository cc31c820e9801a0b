//! Cheap linguistic cues per sentence, in English and Dutch: did someone do something, promise something,
//! ask for something, say the problem is (not) solved? Combined with the encoder's prototype similarities
//! in `fields.rs`; the regexes make the choices explainable and work the same in both languages.

use regex::Regex;
use std::sync::LazyLock;

/// A sentence of a turn: byte span into the turn's (display) text and its cues.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    pub start: usize,
    pub end: usize,
    pub cues: Cues,
}

/// What a sentence says, as far as regexes can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cues {
    /// Words in the sentence (after @mentions and links are dropped).
    pub words: usize,
    /// Only a greeting, thanks, apology or sign-off: nothing to report.
    pub filler: bool,
    /// A problem or request of the customer ("doesn't work", "I want to cancel", "klopt niet").
    pub problem: bool,
    /// The speaker did something ("I have processed", "ik heb … geregeld", "Done").
    pub done: bool,
    /// The speaker does or will do something now ("I'll book", "let me check", "ik stuur", "ik zet").
    pub doing: bool,
    /// The speaker asks the other to do something ("please DM us", "kunt u … sturen").
    pub request: bool,
    /// A promise about the future ("you will receive", "u ontvangt", "binnen vijf werkdagen").
    pub promise: bool,
    /// The problem is solved or the customer is satisfied ("that's sorted", "werkt weer", "top geregeld").
    pub solved: bool,
    /// The problem is not solved ("still not working", "nog steeds niet", "can't help").
    pub unsolved: bool,
    /// The fix is still to come ("an engineer will", "onderzoek", "escalate", "get back to you").
    pub pending: bool,
    /// Thanks ("thanks", "dank u").
    pub thanks: bool,
    /// A question ("Shall I arrange the refund?").
    pub question: bool,
    /// An explicit future in the first person ("I'll", "ik ga", "ik zal").
    pub future: bool,
    /// Cancelling a subscription, contract or account comes up ("I'd like to cancel my contract", "ik wil
    /// opzeggen"); an order or appointment being cancelled does not count: that is no customer leaving.
    pub cancel: bool,
    /// The cancellation is confirmed as carried out ("the cancellation confirmation by email", "u
    /// ontvangt een bevestiging van de opzegging", "ik heb uw abonnement opgezegd").
    pub cancel_done: bool,
}

impl Cues {
    /// Thanks and nothing else a note could report ("fijn dat jullie zo snel reageren, dank je wel!").
    pub fn only_thanks(&self) -> bool {
        self.thanks && !self.problem && !self.cancel
    }
}

/// Intent ids (of the intent task) that mean the customer wants to leave: the default model's `cancel`.
pub const CANCEL_INTENTS: &[&str] = &["cancel"];

pub(super) fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static SPLIT: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"[.!?…]+[)\]\x22']*(?:\s+|$)|\n+|;\s+"));
/// Handles, links, agent initials and signatures ("^SV", "/DV", "… - Josh") and a thread's tweet counters
/// ("(2) …", "… 1/2").
static NOISE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?:@\w+|https?://\S+|www\.\S+|(?:^|\s)[\^*~/-]\s?[A-Z]{1,3}\b|\^[A-Z]{1,3}\b|^\s*\([1-9]\)\s|\s\(?[1-9]/[1-9]\)?\s*$|\s[-–~]\s?\p{Lu}\p{Ll}{1,15}\s*$)",
    )
});
/// A signing name before a dash at the start ("jasmine - please can I …"), after signed thanks are read.
static SIGNED_START: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"^\s*\p{Ll}{2,15}\s[-–]\s"));
static WORD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"[\p{L}\p{N}]+(?:['’][\p{L}]+)?"));
/// A name signed after thanks ("Thank you-Mariya", "Thanks ~Dan"): the thanks stay, the name goes.
static SIGNED_THANKS: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"\b(?i:(thank you|thanks|thx|cheers|ty))\s?[-~–]\s?\p{Lu}\p{Ll}{1,15}\s*$"));

static FILLER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)^(?:\W|hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening)|goedemorgen|goedemiddag|goedenavond|hoi|hallo|dag|beste|ty|thx|tia|thanks?(?: you)?(?: so much| very much| again)?(?: for (?:your \w+|the \w+|reaching out|contacting us|calling|getting in touch|everything|all|that|this))?|dank (?:u|je)(?: wel)?|bedankt|graag gedaan|you're welcome|no problem|geen probleem|sorry(?: to hear that)?|i'm sorry(?: to hear (?:that|about \w+(?: \w+)?))?|i am sorry(?: to hear that)?|we're sorry(?: to hear that)?|excuses|vervelend|wat vervelend|i understand(?: your frustration)?|ik begrijp het|dat begrijp ik|have a (?:nice|great|good) day|nog een fijne dag|fijne dag|you're through to|u spreekt met|je spreekt met|this is|my name is|how can i help(?: you)?(?: today)?|waarmee kan ik (?:u|je) helpen|waar kan ik (?:u|je) mee helpen|ok(?:ay)?|oké|prima|fine|great|super|top|yes|ja|no|nee|please|alstublieft|graag|bye|doei|cheers|(?:we|i)(?:'d| would) (?:be )?(?:happy|glad|love|like) to (?:help|assist)(?: you)?(?: further| out| with that)?(?: if (?:we|i) can)?|(?:we're|we are|i'm|i am) (?:happy|glad|here) to help|happy to help|(?:i |we )?hope (?:this|that) (?:helps|makes sense)|let (?:us|me) know if (?:you (?:need|have)|there(?:'s| is) anything|we can|i can)[^.!?]*|keep (?:us|me) posted(?: on [^.!?]*)?|feel free to (?:reach out|contact us|get in touch|dm us|let us know)[^.!?]*|(?:if|should) you (?:have|need) (?:any )?(?:other |further |more )?(?:questions|help|assistance)[^.!?]*|we(?:'re| are) (?:just |only )?a (?:tweet|dm|message) away|(?:so |really |very |terribly |truly )?sorry (?:for|about) (?:the|any|this|that|all the) (?:inconvenience|trouble|wait|delay|frustration|hassle|confusion|experience|disappointment)(?: caused)?|(?:we |i )?apologi[sz]e (?:for|about) (?:the|any|this|that) (?:inconvenience|trouble|wait|delay|frustration|hassle|confusion|experience)(?: caused)?|(?:our |my )?apologies(?: for (?:the|any|this|that|all the) [^.!?,;]*)?|excuses voor (?:het|de) (?:ongemak|wachten|vertraging)|(?:ik|we) help(?:en)? (?:u|je) graag(?: verder)?|\s|[,.:!?])+$",
    )
});
static PROBLEM: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:not|n't|never|no longer|won't|can't|cannot|unable|problem|issue|error|broken|wrong|fault|failed|fails|missing|late|delayed|still|again|charged|overcharged|refund|cancel\w*|complain\w*|help|why|how (?:do|can|long)|drop(?:s|ped|ping)?|crash\w*|stuck|freez\w*|disconnect\w*|outage|niet|geen|kapot|storing|probleem|fout|klopt|vergeten|te laat|nog steeds|weer|opzeggen|opgezegd|terug|klacht|waarom|hoe (?:kan|moet|lang)|valt\b.{0,40}\b(?:uit|weg)|hapert|traag)\b|n't\b|\?",
    )
});
static DONE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:i(?:'ve| have)|we(?:'ve| have)|i just|we just|has been|have been|is now|are now|ik heb|we hebben|wij hebben|is nu|is (?:geregeld|verwerkt|ingediend|aangepast|opgelost|teruggeboekt|verstuurd)|heb ik)\b.{0,60}?\b(?:\w+ed|sent|made|put|set|done|got|found|taken|given|geregeld|verwerkt|ingediend|aangepast|opgelost|teruggeboekt|verstuurd|gestuurd|ingepland|genoteerd|doorgezet|aangevraagd|gecontroleerd|bekeken|gezet|gedaan|gemaakt|geboekt|opgezegd|stopgezet|gestart)\b|^\s*(?:done|all done|klaar|geregeld|gedaan)\b",
    )
});
static DOING: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:i'll|i will|we'll|we will|let me|let us|let's|i can|we can|i'm going to|i am going to|i'm (?:\w+ing)|we're (?:\w+ing)|ik (?:zal|ga|kan|stuur|zet|plan|boek|start|voer|regel|noteer|verbind|kijk|maak|vraag|pas|meld|bel|geef)|we (?:gaan|kunnen|sturen|zetten)|wij (?:gaan|kunnen|sturen)|laat ik|zal ik)\b",
    )
});
static REQUEST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:please|could you|can you|would you|kindly|dm us|send us|reach out|follow us|contact us|let us know|tell us|check (?:your|that|if)|try|make sure|kunt u|kun je|kunt|wilt u|wil je|stuur (?:ons|me)|laat (?:ons|me) weten|graag|probeer)\b",
    )
});
static PROMISE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:i'll|i will|we'll|we will|will be|will (?:arrive|appear|receive|get|come|call|contact|send|reach|follow|be)|you'll|you will|going to|within|by (?:tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|the end)|ik (?:zal|ga|stuur|bel|plan|zet|regel|noteer)|we (?:zullen|gaan|sturen)|u ontvangt|je ontvangt|ontvangt u|ontvang je|krijgt u|krijg je|binnen|vandaag nog|zal|staat .{0,30} weer)\b",
    )
});
static SOLVED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:resolved|fixed|sorted|solved|works? (?:now|again|fine)|working (?:now|again)|that(?:'s| is) (?:a relief|great|perfect|brilliant|all|it|helpful|fine)|problem solved|all good|perfect|brilliant|awesome|appreciate|done|opgelost|geregeld|werkt (?:weer|nu)|top|super|perfect|fijn|helpt|is gelukt|gelukt|prima)\b",
    )
});
static UNSOLVED: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:still (?:not|no|doesn't|don't|hasn't|haven't|isn't|waiting|broken|the same|nothing|having)|not (?:fixed|solved|resolved|working|helpful|good enough|acceptable)|doesn't help|didn't (?:help|work)|no help|useless|unacceptable|ridiculous|waste|can't help|cannot help|unable to|nothing (?:more )?(?:i|we) can do|not possible|complaint|nog steeds niet|niet opgelost|helpt niet|werkt (?:nog steeds )?niet|kan ik (?:niet|helaas niet)|helaas niet|niet mogelijk|belachelijk|onacceptabel|klacht|genoeg van)\b",
    )
});
static PENDING: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:engineer|technician|investigat\w*|look into|looking into|escalat\w*|get back to you|follow up|dm|direct message|private message|pending|waiting list|think about|i hope|hopefully|nadenken|ik hoop|hoop ik|monteur|onderzoek|opnieuw (?:berekenen|bekijken)|terugbellen|wachtlijst|doorzetten|in behandeling|nog even)\b",
    )
});
static FUTURE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:i'll|i will|we'll|we will|i'm going to|i am going to|ik zal|ik ga|zal ik|ga ik|we gaan|wij gaan|we zullen)\b",
    )
});
static CANCEL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:cancel(?:s|led|ed|ling|ing|lation)?|terminate|close (?:my|the|our) account|end (?:my|the|our) contract|opzeggen|opzegging|opzeg|opgezegd|beëindigen|stopzetten)\b",
    )
});
/// Cancelling what is not a subscription: an order, a booking, a payment.
static CANCEL_OTHER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\bcancel\w*\s+(?:(?:my|the|this|that|your|our|an?)\s+)?(?:\w+\s+)?(?:order|booking|appointment|payment|delivery|reservation|flight|transfer|visit|request)s?\b",
    )
});
static CANCEL_DONE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:cancellation (?:confirmation|is (?:now )?(?:processed|confirmed|done|complete|booked|in))|confirm(?:ation of|ing)? (?:the|your) cancellation|(?:i've|i have|we've|we have) (?:now |just )?(?:cancell?ed|terminated|processed (?:the|your) cancellation)|(?:has|have) (?:now )?been (?:cancell?ed|terminated)|is (?:now )?cancell?ed|bevestiging van (?:de|uw|je) opzegging|opzegging (?:is )?(?:per .{1,20} )?(?:verwerkt|bevestigd|doorgevoerd|ingediend|ingepland|geregistreerd|vastgelegd)|(?:ik heb|we hebben|wij hebben|heb ik) (?:de|uw|je) opzegging (?:per .{1,20} |nu |direct )?(?:verwerkt|doorgevoerd|ingediend|geregistreerd|vastgelegd)|(?:ik heb|we hebben|wij hebben|heb ik)\b.{0,50}?\bopgezegd|(?:is|zijn) (?:nu |per .{1,20} )?opgezegd|(?:is|zijn) (?:nu |per .{1,20} )?(?:stopgezet|beëindigd))\b",
    )
});
static THANKS: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)\b(?:thanks?|thank you|thx|cheers|dank|bedankt|merci)\b"));

pub(super) fn hit(re: &LazyLock<Option<Regex>>, text: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(text))
}

/// The text with @mentions, links and sign-offs (`^JK`, `/DV`) blanked out and HTML's escapes of
/// exported chats (`&amp;`) read: what a note should show.
pub fn clean(text: &str) -> String {
    let cleaned = match NOISE.as_ref() {
        Some(r) => r.replace_all(text, " ").into_owned(),
        None => text.to_string(),
    };
    let cleaned = match SIGNED_THANKS.as_ref() {
        Some(r) => r.replace(&cleaned, "$1").into_owned(),
        None => cleaned,
    };
    let cleaned = match SIGNED_START.as_ref() {
        Some(r) => r.replace(&cleaned, "").into_owned(),
        None => cleaned,
    };
    let cleaned = [("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'")]
        .iter()
        .fold(cleaned, |t, (escaped, plain)| t.replace(escaped, plain));
    let joined = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    joined.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '-')).to_string()
}

pub fn word_count(text: &str) -> usize {
    WORD.as_ref().map_or_else(|| text.split_whitespace().count(), |r| r.find_iter(text).count())
}

/// Cues of one sentence.
pub fn cues(sentence: &str) -> Cues {
    let cleaned = clean(sentence);
    let s = cleaned.as_str();
    let words = word_count(s);
    Cues {
        words,
        filler: words == 0 || hit(&FILLER, s),
        problem: hit(&PROBLEM, s),
        done: hit(&DONE, s),
        doing: hit(&DOING, s),
        request: hit(&REQUEST, s),
        promise: hit(&PROMISE, s),
        solved: hit(&SOLVED, s),
        unsolved: hit(&UNSOLVED, s),
        pending: hit(&PENDING, s),
        thanks: hit(&THANKS, s),
        question: s.trim_end().ends_with('?'),
        future: hit(&FUTURE, s),
        cancel: hit(&CANCEL, s) && !hit(&CANCEL_OTHER, s),
        cancel_done: hit(&CANCEL_DONE, s) && !hit(&CANCEL_OTHER, s),
    }
}

/// Titles before a name, whose full stop ends no sentence.
const TITLES: &[&str] = &["mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "dhr.", "mevr.", "mw."];

fn ends_with_title(sentence: &str) -> bool {
    let last = sentence.rsplit(|c: char| c.is_whitespace()).next().unwrap_or_default().to_lowercase();
    TITLES.contains(&last.as_str())
}

/// Sentences of a turn (byte spans without surrounding white space, leading @mentions skipped).
pub fn sentences(text: &str) -> Vec<Sentence> {
    let mut spans = Vec::new();
    let mut last = 0;
    if let Some(split) = SPLIT.as_ref() {
        for m in split.find_iter(text) {
            // Keep the punctuation with its sentence, drop the white space after it.
            let end = m.start() + m.as_str().trim_end().len();
            spans.push((last, end));
            last = m.end();
        }
    }
    if last < text.len() {
        spans.push((last, text.len()));
    }
    // "Ms. Dawson, …", "Dhr. Jansen …": a title's full stop ends no sentence.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(prev) if text.get(prev.0..prev.1).is_some_and(ends_with_title) => prev.1 = e,
            _ => merged.push((s, e)),
        }
    }
    merged
        .into_iter()
        .filter_map(|(s, e)| {
            let piece = text.get(s..e)?;
            let lead = piece.len() - piece.trim_start().len();
            let mut start = s + lead;
            // Twitter-style replies open with handles: the quote starts after them.
            while let Some(rest) = text.get(start..e) {
                let Some(after) = rest.strip_prefix('@') else { break };
                let handle = after.find(char::is_whitespace).unwrap_or(after.len());
                let tail = after.get(handle..).unwrap_or_default();
                let skip = 1 + handle + (tail.len() - tail.trim_start().len());
                if start + skip >= e {
                    break;
                }
                start += skip;
            }
            let end = s + piece.trim_end().len();
            let body = text.get(start..end)?;
            (!body.trim().is_empty()).then(|| Sentence { start, end, cues: cues(body) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_and_skips_handles() {
        let t = "@AppleSupport My iPhone is on 11.1.2, and my watch is on 4.1. Any ideas? https://t.co/x";
        let s = sentences(t);
        assert_eq!(&t[s[0].start..s[0].end], "My iPhone is on 11.1.2, and my watch is on 4.1.");
        assert_eq!(&t[s[1].start..s[1].end], "Any ideas?");
        assert_eq!(s.len(), 3);
        let t = "Ms. Dawson, I need you to take a dictation. Ik bel dhr. Jansen morgen.";
        let s = sentences(t);
        assert_eq!(
            s.iter().map(|x| &t[x.start..x.end]).collect::<Vec<_>>(),
            ["Ms. Dawson, I need you to take a dictation.", "Ik bel dhr. Jansen morgen."]
        );
        assert_eq!(clean("@135060 Let's move to DM https://t.co/GD ^JK"), "Let's move to DM");
        assert_eq!(clean("We'll take a look /DV"), "We'll take a look");
        assert_eq!(clean("Any questions, let us know.^SV"), "Any questions, let us know.");
        assert_eq!(clean("I paid &amp; it's gone &gt;:("), "I paid & it's gone >:(");
        assert_eq!(clean("Thank you-Mariya"), "Thank you");
        assert_eq!(clean("(2) We will have it addressed."), "We will have it addressed.");
        assert_eq!(clean("You can also call us on 0800 123. 1/2"), "You can also call us on 0800 123.");
        assert_eq!(clean("jasmine - please can I ask which store?"), "please can I ask which store?");
        assert_eq!(clean("ty - Marian 2/2"), "ty");
        assert_eq!(clean("Nothing has been reported - Josh"), "Nothing has been reported");
        assert_eq!(clean("I switched to Coca-Cola"), "I switched to Coca-Cola");
        assert_eq!(clean("It costs 1/2 of the price"), "It costs 1/2 of the price");
        assert!(cues("Thank you-Mariya").filler);
        assert_eq!(clean("I switched to Coca-Cola"), "I switched to Coca-Cola");
    }

    #[test]
    fn cues_in_both_languages() {
        assert!(cues("I have processed a full refund of 189.99.").done);
        assert!(cues("Ik heb de terugboeking ingediend.").done);
        assert!(cues("Ik stuur vandaag kosteloos een nieuw exemplaar.").doing);
        assert!(cues("You will receive the corrected bill within 2 working days.").promise);
        assert!(cues("Die ontvangt u binnen tien werkdagen.").promise);
        assert!(cues("Het werkt nog steeds niet.").unsolved);
        assert!(cues("Super, dank je wel! Dat is top geregeld.").solved);
        assert!(cues("Thanks for your help.").filler);
        assert!(cues("Our apologies for the disruptions to your travels this evening.").filler);
        assert!(cues("We'd like to help if we can.").filler);
        assert!(!cues("Apologies for the delay, your refund of 20 euro has been processed.").filler);
        assert!(cues("Goedemiddag.").filler);
        // Courtesy without a fact: no note reports it.
        for courtesy in [
            "Sorry for the inconvenience!",
            "Hope this helps, let us know if you need anything else.",
            "We'd be happy to help.",
            "Apologies for the delay.",
            "Feel free to reach out should you have future Xbox Support questions!",
            "If you have any other questions, we're a tweet away!",
        ] {
            assert!(cues(courtesy).filler, "{courtesy}");
        }
        assert!(!cues("Sorry for the delay, your refund was sent today.").filler);
        assert!(cues("Mijn internet valt sinds gisteravond steeds weg.").problem);
        assert!(cues("I've had constant dropped calls at home for a month now.").problem);
        assert!(!cues("My broadband has been dropping out every few minutes since Saturday.").filler);
        assert!(cues("Please DM us your order number.").request);
    }

    #[test]
    fn cancellations_asked_and_confirmed_in_both_languages() {
        for asked in ["Ik wil mijn mobiele abonnement opzeggen.", "I'd like to cancel my contract."] {
            assert!(cues(asked).cancel && !cues(asked).cancel_done, "{asked}");
        }
        assert!(!cues("Can you cancel my order 5521?").cancel);
        for done in [
            "U ontvangt binnen 24 uur een bevestiging van de opzegging.",
            "Ik heb uw abonnement per 1 maart opgezegd.",
            "Uw abonnement is per 1 maart opgezegd.",
            "De opzegging is verwerkt.",
            "Ik heb de opzegging per 1 maart verwerkt.",
            "Your PAC code will be sent by text within the hour, and the cancellation confirmation by email.",
            "I've cancelled your contract as of today.",
            "Your subscription has been cancelled.",
        ] {
            assert!(cues(done).cancel_done, "{done}");
        }
        for open in [
            "Dan kunt u opzeggen via Mijn KPN of door ons te bellen.",
            "Uw contract loopt nog tot 1 februari, de opzegtermijn is een maand.",
            "Cancelling now would mean an early termination fee of 40 pounds.",
            "I've cancelled your order.",
        ] {
            assert!(!cues(open).cancel_done, "{open}");
        }
    }
}
