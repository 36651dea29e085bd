/// The English sentences the offline speech recogniser listens for first: the questions the
/// offline responder answers, common clinic questions a knowledge file answers, and
/// emergencies. A general language model hears anything; on a short question from a stranger
/// it often mishears, and a misheard "chest pain" is a patient not escalated. A grammar of
/// the sentences that matter makes those reliable; what is not in it falls through to the
/// general model.
///
/// Adding a sentence: every word must be in the recogniser's dictionary (CMUdict), and the
/// tests check that each question reaches the intent it asks for and each emergency escalates.
public enum OfflineQuestions {
    /// Questions, lower case, without punctuation.
    public static let questions: [String] = [
        // Heart rate.
        "what is my heart rate", "what's my heart rate", "what was my heart rate", "tell me my heart rate", "is my heart rate normal",
        "is my heart rate okay", "what is my pulse", "what's my pulse", "what was my pulse", "is my pulse normal", "how fast is my heart beating",
        "what is my heartbeat",
        // Breathing.
        "what is my breathing rate", "what's my breathing rate", "what was my breathing rate", "is my breathing normal",
        "is my breathing rate normal", "how fast am i breathing", "what is my respiration rate",
        // Reliability and how it works.
        "how accurate is this", "how accurate is the reading", "is the reading reliable", "how reliable is the measurement",
        "can i trust the reading", "how does this work", "how does the camera measure my heart rate", "how do you measure my pulse",
        "does the camera record video", "is the camera recording me",
        // The visit.
        "how long does the visit take", "how long will this take", "how long does it take", "how much time does this take",
        // Clinic facts (answered only from the clinic's knowledge file).
        "what are your opening hours", "when are you open", "when do you close", "what time do you close", "where do i go next",
        "what do i do next", "what happens next", "where is the waiting room", "where is the toilet", "where is the bathroom",
        "where are the toilets", "where is the pharmacy", "where can i park", "is there parking", "how do i make an appointment",
        "can i book an appointment", "where is the reception", "where is the exit", "do i need to wait", "how long is the wait",
    ]

    /// Emergencies as patients say them, lower case, without punctuation (English; the
    /// other languages reach the emergency check through the general model or a cloud recogniser).
    public static let emergencies: [String] = [
        "i have chest pain", "i've got chest pain", "my chest hurts", "i have pain in my chest", "my chest feels tight",
        "i think i'm having a heart attack", "i can't breathe", "i cannot breathe", "i'm having trouble breathing",
        "it's hard to breathe", "i'm short of breath", "i'm choking", "i feel faint", "i'm going to faint", "i think i'm going to pass out",
        "i fainted", "i passed out", "i think i'm having a stroke", "my face is drooping", "i can't move my arm", "my arm is numb",
        "i want to kill myself", "i want to die", "i'm thinking about suicide", "i want to hurt myself", "i'm bleeding a lot",
        "i can't stop the bleeding", "i'm coughing up blood", "i'm having a seizure", "i took too many pills", "i took an overdose",
        "i'm having an allergic reaction", "my throat is closing", "call an ambulance", "this is an emergency", "i need an ambulance",
        "i'm dying", "i have the worst headache of my life",
    ]

    /// Words a patient may say before a question.
    static let openers = ["please", "excuse me", "hello", "hi", "sorry"]

    /// The grammar, in JSGF, for PocketSphinx: an optional opener, then one of the sentences.
    public static var jsgf: String {
        let sentences = (questions + emergencies).map { "(\($0))" }.joined(separator: "\n    | ")
        return """
            #JSGF V1.0;
            grammar kiosk;
            public <utterance> = [<opener>] <sentence>;
            <opener> = \(openers.joined(separator: " | "));
            <sentence> = \(sentences);

            """
    }
}
