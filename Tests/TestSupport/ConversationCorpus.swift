/// Sentences patients say, shared by the tests of the emergency check (alone, and in front of
/// the relay's voice turns).
public enum ConversationCorpus {
    /// How patients say it: sentences, not the patterns themselves (these were written apart from
    /// the list, and the list was then extended until each is caught).
    public static let emergencies = [
        "I have a really bad pain in my chest", "My chest feels tight and I'm sweating", "there's a crushing feeling in my chest",
        "I think I'm having a heart attack", "I can't breathe properly", "It's so hard to breathe right now",
        "I'm short of breath even sitting down", "my throat is closing up", "I feel like I'm going to faint",
        "I think I'm about to pass out", "I passed out in the car park", "everything is going black, I'm blacking out",
        "the left side of my face is drooping", "I can't move my arm suddenly", "my words are coming out all wrong",
        "I have the worst headache of my life, it came on suddenly", "one side of my body went numb",
        "I want to kill myself", "I've been thinking about suicide", "I don't want to live anymore",
        "sometimes I want to hurt myself", "I'd be better off dead", "I'm bleeding a lot from my hand",
        "the cut won't stop bleeding", "I've been coughing up blood", "I took too many pills this morning",
        "my tongue is swelling up after I ate nuts", "I think I'm having an allergic reaction", "my son is having a seizure",
        "please call an ambulance", "this is an emergency", "I'm dying, help",
        "Tengo un dolor muy fuerte en el pecho", "No puedo respirar bien", "Creo que me voy a desmayar", "Quiero morir",
        "Estoy sangrando mucho", "J'ai une douleur dans la poitrine", "Je ne peux pas respirer", "Je vais m'évanouir",
        "J'ai envie de mourir", "Je saigne beaucoup", "Ich habe starke Brustschmerzen", "Ich kann nicht atmen",
        "Ich will sterben", "Ich blute stark", "Llamen a una ambulancia por favor", "Appelez une ambulance !",
    ]

    /// What patients ask a kiosk on an ordinary day.
    public static let ordinaryQuestions = [
        "What is my heart rate?", "How fast am I breathing?", "Is my pulse normal?", "How reliable is this measurement?",
        "How long does the visit take?", "Where do I go next?", "Where is the pharmacy?", "When does the clinic close?",
        "Can I see a doctor today?", "Do I need an appointment?", "Where are the toilets?", "Is there parking nearby?",
        "How does the camera measure my pulse?", "Does the camera record video?", "Who will see my results?",
        "Can I get a copy of my results?", "What does the number mean?", "Why did my heart rate go up?",
        "Should I sit still?", "Can I take my glasses off?", "How do I book a blood test?", "Do you take a lot of blood for the test?",
        "Where is the emergency department?", "Is the flu vaccine available?", "I had a chest X-ray last year, do I need another?",
        "What is a normal breathing rate?", "Can you speak Spanish?", "How much does it cost?", "Is the doctor running late?",
        "I feel fine, thank you", "Where can I wait?", "Can my daughter come in with me?", "How do I get to the X-ray room?",
        "What time is it?", "Thank you very much", "¿Cuál es mi ritmo cardíaco?", "¿Dónde está la farmacia?",
        "Quel est mon rythme cardiaque ?", "Où sont les toilettes ?", "Wie hoch ist mein Puls?", "Wo ist die Apotheke?",
        "Can I have a glass of water?", "Is it normal to feel nervous before the doctor?", "Do you check blood pressure too?",
        "My heart rate seems high, is that okay?", "How many breaths per minute is good?", "Can I leave now?",
        "What are the opening hours on Saturday?", "Do you have a wheelchair?", "Is there a quiet room?",
    ]

}
