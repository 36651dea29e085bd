/// The phrases that make the kiosk call for help at once, by kind of emergency, in English,
/// Spanish, French and German. Written as people say them, lower case, accents and
/// apostrophes optional (they are folded away before matching); `…` is up to three other
/// words; a word ending in `*` matches any word it begins (`bleed*`: bleeding, bleeds).
///
/// Adding a phrase: put it under its kind, and add a sentence using it to the test list of
/// emergencies; the test of ordinary questions shows whether it now escalates what it should not.
public enum EmergencyPhrases {
    /// Kind → patterns.
    public static let all: [String: [String]] = [
        "chest_pain": [
            "chest pain", "chest hurts", "chest is hurting", "pain … chest", "chest … tight*", "tight* … chest", "pressure … chest",
            "chest … pressure", "crushing … chest", "heart attack", "my heart … hurts",
            "dolor … pecho", "dolor … en el pecho", "me duele el pecho", "presion … pecho", "ataque al corazon", "infarto",
            "douleur … poitrine", "mal … poitrine", "poitrine … serre*", "crise cardiaque",
            "brustschmerz*", "schmerz* … brust", "herzinfarkt",
        ],
        "breathing": [
            "cant breathe", "cannot breathe", "can not breathe", "unable to breathe", "trouble breathing", "hard to breathe",
            "difficulty breathing", "struggling to breathe", "short of breath", "out of breath", "not breathing", "cant get … air",
            "choking", "throat … closing", "cant swallow",
            "no puedo respirar", "me cuesta respirar", "me ahogo", "falta … aire",
            "je ne peux pas respirer", "peux pas respirer", "du mal a respirer", "j etouffe", "jetouffe", "manque d air",
            "kann nicht atmen", "kriege keine luft", "bekomme keine luft", "atemnot",
        ],
        "fainting": [
            "faint", "fainted", "fainting", "going to pass out", "gonna pass out", "about to pass out", "passed out",
            "blacking out", "blacked out", "lose consciousness", "losing consciousness", "lost consciousness", "unconscious",
            "me voy a desmayar", "desmay*", "perdi el conocimiento", "inconsciente",
            "je vais m evanouir", "vais mevanouir", "evanoui*", "perdu connaissance", "fais un malaise",
            "ohnmacht*", "ohnmachtig", "bewusstlos",
        ],
        "stroke": [
            "stroke", "face … droop*", "droop* … face", "cant move my arm", "cant move my leg", "cant feel my arm", "cant feel my face",
            "numb* … one side", "one side … numb*", "one side … went numb", "arm … numb", "slurred", "cant speak properly", "words … coming out … wrong",
            "sudden … worst headache", "worst headache … life",
            "derrame", "ictus", "no puedo mover … brazo", "se me duerme … lado",
            "avc", "paralys*", "je ne sens plus mon bras",
            "schlaganfall", "kann … arm nicht bewegen", "gesicht … hangt",
        ],
        "suicide_self_harm": [
            "kill myself", "killing myself", "end my life", "ending my life", "take my own life", "suicid*", "want to die",
            "wanna die", "dont want to live", "dont want to be alive", "better off dead", "hurt myself", "hurting myself", "harm myself",
            "self harm", "cut myself", "cutting myself", "overdose on",
            "quiero morir", "matarme", "quitarme la vida", "no quiero vivir", "hacerme dano",
            "me tuer", "envie de mourir", "veux mourir", "en finir", "me faire du mal",
            "mich umbringen", "will sterben", "nicht mehr leben", "mir etwas antun",
        ],
        "bleeding": [
            "bleeding a lot", "bleeding heavily", "bleeding badly", "severe bleeding", "wont stop bleeding", "cant stop … bleed*",
            "losing a lot of blood", "blood everywhere", "coughing up blood", "vomiting blood", "throwing up blood",
            "sangr* mucho", "no para de sangrar", "pierdo mucha sangre", "vomit* sangre",
            "saigne beaucoup", "saigne abondamment", "perds beaucoup de sang", "arrete pas de saigner", "crache du sang",
            "blute stark", "verliere viel blut", "hort nicht auf zu bluten", "blut erbrochen",
        ],
        "seizure": [
            "seizure", "seizing", "convulsion*", "fit coming on", "having a fit",
            "convulsi*", "ataque epileptico", "crise d epilepsie", "krampfanfall", "epileptischer anfall",
        ],
        "poisoning": [
            "overdose", "overdosed", "took too many pills", "took too much medicine", "swallowed … poison", "poisoned",
            "sobredosis", "envenen*", "surdose", "empoisonn*", "uberdosis", "vergiftet",
        ],
        "allergic_reaction": [
            "anaphyla*", "allergic reaction", "tongue … swelling", "lips … swelling", "face … swelling", "epipen",
            "reaccion alergica", "reaction allergique", "allergischer schock",
        ],
        "emergency": [
            "call an ambulance", "call 911", "call 999", "call 112", "need an ambulance", "this is an emergency", "its an emergency",
            "medical emergency", "im dying", "i am dying",
            "llamen a una ambulancia", "es una emergencia", "me estoy muriendo",
            "appelez une ambulance", "c est une urgence", "cest une urgence", "je suis en train de mourir", "je meurs",
            "krankenwagen", "notarzt", "ein notfall", "ich sterbe",
        ],
    ]
}
