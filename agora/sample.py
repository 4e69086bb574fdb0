"""The bundled sample community: a seeded generator of export files.

``agora run`` without paths imports a fictional customer community of
*Caffè Aurora*, an Italian maker of espresso machines and coffee capsules.
Nothing is shipped as data: :func:`generate_sample` writes the community as
files in the real export formats the importers read, so the sample exercises
the same code path as a customer's own exports:

=====================================================  =============================================
``exports/twitter/search_<community>.jsonl``           Twitter/X API v2 pages, one per line (twarc2)
``exports/whatsapp/Chat WhatsApp con <group>.txt``     WhatsApp group export, Android, Italian locale
``exports/telegram/ChatExport_<date>/result.json``     Telegram Desktop export of a public supergroup
``exports/generic/*.jsonl``                            Instagram and Facebook comments, Instagram Live
``crm.csv``                                            CRM rows of the people seen on two channels
``manifest.json``                                      the :class:`SampleManifest`, as JSON
=====================================================  =============================================

Only ``exports/`` is meant for the importers; ``crm.csv`` feeds identity
resolution.

Six communities with two or three planted opinion leaders each: people many
others reply to, quote, share and mention, and whose sentiment their
followers tend to take up when they answer them (so sway is measurable).
A few people speak on two channels and share an e-mail or phone number in
``crm.csv``; some of them carry traffic between communities.

Everything is derived from ``seed``: the same seed writes byte-identical
files on every machine and every day (no clock, no hash-order dependence).
Timestamps fall in the 90 days before :data:`REFERENCE_DATE`.

Account keys in the manifest are ``platform:native_id`` with the native id as
it appears in the files: ``twitter:<author_id>``, ``telegram:<from_id>`` (e.g.
``telegram:user5512345678``), ``whatsapp:<author as written>``,
``instagram:<actor>`` and ``facebook:<actor>``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["SampleManifest", "generate_sample", "REFERENCE_DATE", "BRAND_NAME"]

REFERENCE_DATE = datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)
"""The sample's "today": every timestamp lies in the 90 days before it."""

BRAND_NAME = "Caffè Aurora"
DAYS = 90
EXPORTS = "exports"  # the folder to import; crm.csv and manifest.json stay beside it
MANIFEST = "manifest.json"
GENERATOR = "agora.sample"

# -- data tables ----------------------------------------------------------------------------------

IT_FIRST = """Giulia Marco Francesca Luca Chiara Alessandro Sara Matteo Elena Davide Valentina Simone
Martina Andrea Federica Lorenzo Silvia Stefano Paola Giorgio Anna Riccardo Laura Fabio Elisa Nicola
Roberta Tommaso Ilaria Gabriele Beatrice Pietro Camilla Emanuele Noemi Filippo Alessia Daniele Serena
Michele Giovanni Caterina Massimo Irene Alberto Vittoria Enrico Marta Claudio Greta""".split()
IT_LAST = """Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti
Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso Ferrara
Galli Martini Leone Longo Gentile Martinelli Vitale Serra Coppola Marchetti Parisi Villa Ferri Fabbri
Bellini Basile Riva Donati Pellegrini Sanna Cattaneo Fumagalli Brambilla Sala Galbiati Crippa""".split()
IT_LAST += ["De Luca", "De Santis", "D'Angelo", "Lo Russo"]
EN_FIRST = """Emma Oliver Sophie James Hannah Daniel Laura Thomas Anna Lucas Mia Noah Chloe Ethan Grace
Ben Julia Max Lena David Sarah Pablo Inès Kenji Priya Tom Rachel Mark Claire Pieter Sean Aoife Lars
Ingrid Mateo Yuki Amir Zoe Felix Nora""".split()
EN_LAST = """Smith Johnson Brown Miller Wilson Taylor Clark Walker Müller Schmidt Dubois Martin García
López Jansen Novak Murphy Kowalski Andersen Nakamura Patel Evans Hughes Fischer Bernard Silva Berg
Larsen Moreau Weber""".split() + ["O'Brien", "de Vries", "van Dijk"]
NAME_EMOJI = ["☕", "🌸", "🇮🇹", "✨", "🚴", "📚", "🍕", "😎"]
COMPANIES = ["Studio Ferri", "Acme Logistica", "Tipografia Sala", "Ottica Brera", "Rinaldi & Figli",
             "Fontana Srl", "Coworking Isola", "Studio Legale Conti", "Farmacia Villa", "Ufficio Tecnico"]

MACHINES = ["Aurora Mini", "Aurora Pro 2", "Aurora Lattea", "Aurora Duetto X7"]
CAPSULES = ["Intenso Brera", "Ristretto Navigli", "Dek Sempione", "Lungo Isola", "Crema Duomo", "Arabica Etna"]
CITIES = {"it": ["Milano", "Monza", "Bergamo", "Torino", "Bologna", "Roma", "Como", "Varese"],
          "en": ["Berlin", "London", "Amsterdam", "Munich", "Paris", "Dublin", "Zurich", "Vienna"]}
ERRORS = ["E07", "E12", "E21"]
MONTHS = ["agosto", "settembre", "ottobre"]

# Sentences by topic, language and polarity (-1, 0, 1). Slots: {machine} {machine2} {capsule}
# {capsule2} {city} {days} {hours} {n} {qty} {cups} {code} {order} {month} {pct}.
TEMPLATES: dict[str, dict[str, dict[int, list[str]]]] = {
    "taste": {
        "it": {
            1: ["Le {capsule} sono una meraviglia: crema densa e zero acidità.",
                "Stamattina {capsule} con la {machine}, espresso da bar a casa ☕",
                "Provata la nuova {capsule}: corposa, note di cacao, la ricomprerò di sicuro.",
                "Onestamente il miglior espresso in capsula che abbia bevuto qui a {city}.",
                "La crema della {capsule} è compatta e color nocciola, proprio come piace a me.",
                "Con la {capsule} il cappuccino della domenica è un'altra cosa.",
                "Ho fatto assaggiare la {capsule} a mio suocero napoletano: approvata!"],
            0: ["Qualcuno ha provato la {capsule}? Com'è rispetto alla {capsule2}?",
                "Che temperatura usate per la {capsule}? Io sono a 92 gradi.",
                "Domanda: la {capsule} è 100% arabica o è una miscela?",
                "Oggi giornata {capsule}, domani si cambia.",
                "Sto confrontando la {capsule} e la {capsule2}, vi dico poi.",
                "Quante {capsule} usate per un lungo? Io ne metto una sola.",
                "Ma la {capsule} è stata riformulata? La confezione è diversa."],
            -1: ["La {capsule} è diventata acquosa, non è più quella di una volta.",
                 "Gusto di bruciato con le ultime {capsule}, sarà il lotto?",
                 "Sinceramente la {capsule} è troppo amara, che delusione.",
                 "Prezzo aumentato e qualità calata: la {capsule} non la ricompro.",
                 "Le {capsule} dell'ultimo ordine sanno di cartone, mai successo prima.",
                 "Dopo il cambio di miscela la {capsule} è imbevibile.",
                 "Metà delle {capsule} escono senza crema, acqua sporca."]},
        "en": {
            1: ["The {capsule} capsules are amazing: thick crema, no bitterness at all.",
                "Morning {capsule} on the {machine}, café quality at home ☕",
                "Tried the new {capsule}, chocolatey and rich. Buying again for sure.",
                "Honestly the best capsule espresso I've had in {city}."],
            0: ["Has anyone tried {capsule}? How does it compare to {capsule2}?",
                "Is {capsule} pure arabica or a blend?",
                "Switching between {capsule} and {capsule2} this week, will report back."],
            -1: ["{capsule} tastes watery lately, not what it used to be.",
                 "Burnt taste from the last box of {capsule}. Bad batch?",
                 "Price went up and quality went down, not buying {capsule} again."]}},
    "machine": {
        "it": {
            1: ["La {machine} è silenziosa e scalda in venti secondi, promossa.",
                "Due anni di {machine} senza un problema, la consiglio a tutti.",
                "Regalata la {machine} ai miei genitori: entusiasti!",
                "Il montalatte della {machine} è una bomba, schiuma perfetta ogni volta.",
                "Piccola, bella e fa un espresso serio: la {machine} vale ogni euro."],
            0: ["Meglio la {machine} o la {machine2} per due persone?",
                "Qualcuno sa se la {machine} ha il serbatoio removibile?",
                "Sto pensando di passare alla {machine}, consigli?",
                "Che pressione fa la {machine}? Sul sito non lo trovo.",
                "La {machine} si può programmare per accendersi da sola la mattina?"],
            -1: ["La {machine} dopo sei mesi fa già i capricci.",
                 "Il montalatte della {machine} ha smesso di funzionare, ottimo.",
                 "La {machine} è rumorosissima, alle 7 sveglio tutto il condominio.",
                 "Il serbatoio della {machine} si è crepato dopo tre mesi.",
                 "La {machine} fa il caffè tiepido, ho già provato di tutto."]},
        "en": {
            1: ["The {machine} is quiet and heats up in 20 seconds. Love it.",
                "Two years with my {machine} and zero issues, highly recommend."],
            0: ["{machine} or {machine2} for a small flat?",
                "Does the {machine} have a removable water tank?"],
            -1: ["My {machine} started acting up after six months.",
                 "The milk frother on the {machine} just died. Great."]}},
    "delivery": {
        "it": {
            1: ["Consegna in 24 ore a {city}, impeccabili.",
                "Ordinato lunedì, arrivato martedì mattina. Bravi!",
                "Imballaggio perfetto e corriere puntualissimo, niente da dire."],
            0: ["Quanto ci mette di solito la spedizione a {city}?",
                "Con l'abbonamento la consegna è gratuita?",
                "Il corriere lascia il pacco in portineria o serve esserci?"],
            -1: ["Ordine {order} in ritardo di {days} giorni, nessuna notizia dal corriere.",
                 "Il pacco è arrivato con metà delle capsule schiacciate.",
                 "Tracking fermo da {days} giorni, e intanto sono senza caffè.",
                 "Mi hanno consegnato le {capsule2} al posto delle {capsule}. Di nuovo.",
                 "Il corriere dice consegnato, ma a casa non è arrivato niente.",
                 "Spedizione gratuita sopra i 50 euro, peccato che ci metta {days} giorni."]},
        "en": {
            1: ["Arrived in {city} in 3 days, perfectly packed.",
                "Fast shipping to {city}, very impressed."],
            0: ["Do you ship capsules to {city}? Any customs fees?",
                "How long does delivery to {city} usually take?",
                "Can I change the delivery address on a subscription?"],
            -1: ["Order {order} still not here after {days} days.",
                 "Shipping to {city} took {days} days and then I paid customs on top.",
                 "Half the capsules arrived crushed. Not great."]}},
    "refund": {
        "it": {
            1: ["Rimborso arrivato in {days} giorni, tutto ok.",
                "Reso gestito benissimo, soldi riaccreditati subito."],
            0: ["Come si chiede il rimborso per una macchina in garanzia?",
                "Per il reso serve la scatola originale?"],
            -1: ["Aspetto il rimborso da {days} giorni, nessuna risposta.",
                 "Reso accettato a {month} e rimborso ancora non arrivato.",
                 "Mi propongono un buono invece del rimborso. No grazie."]},
        "en": {
            1: ["Refund came through in {days} days, no hassle.",
                "Return was easy and the money was back quickly."],
            0: ["How do I request a refund for a machine under warranty?",
                "Do I need the original box to return it?"],
            -1: ["Still waiting for my refund after {days} days.",
                 "They offered a voucher instead of a refund. No thanks.",
                 "Return accepted weeks ago, refund still missing."]}},
    "descaling": {
        "it": {
            1: ["Decalcificata la {machine} col kit originale: torna come nuova.",
                "Dopo la decalcificazione l'espresso è tornato caldo e cremoso 👌"],
            0: ["Ogni quanto fate la decalcificazione? Io ogni {n} settimane.",
                "Meglio il decalcificante originale o l'acido citrico?",
                "Con l'acqua di {city} quanto spesso conviene decalcificare?"],
            -1: ["La spia della decalcificazione resta accesa anche dopo il ciclo completo.",
                 "Ho fatto la decalcificazione e ora la {machine} perde acqua dal fondo.",
                 "Il kit di decalcificazione costa quanto una scatola di capsule, assurdo."]},
        "en": {
            1: ["Descaled the {machine} with the official kit, works like new.",
                "After descaling the coffee is hot and creamy again 👌"],
            0: ["How often do you descale? I do it every {n} weeks.",
                "Official descaler or citric acid?"],
            -1: ["The descaling light stays on even after a full cycle.",
                 "Descaled it and now the {machine} leaks from the bottom."]}},
    "compat": {
        "it": {
            1: ["Confermo: sulla {machine} vanno benissimo anche le capsule compatibili.",
                "Le {capsule} funzionano anche sulla vecchia macchina di mia madre, ottimo."],
            0: ["Le {capsule} sono compatibili con le macchine Nespresso?",
                "Funzionano le capsule compatibili sulla {machine}?",
                "Qualcuno ha provato le capsule ricaricabili sulla {machine}?"],
            -1: ["Le capsule compatibili si incastrano nella {machine}, ne ho buttate {n}.",
                 "Hanno cambiato il formato delle capsule e la mia {machine} non le legge più."]},
        "en": {
            1: ["Confirmed: third-party capsules work fine in the {machine}.",
                "{capsule} fits my old machine too, great."],
            0: ["Are {capsule} pods compatible with Nespresso machines?",
                "Do compatible capsules work in the {machine}?"],
            -1: ["Compatible capsules jam in the {machine}, wasted {n} of them.",
                 "New capsule format and my {machine} won't take them anymore."]}},
    "service": {
        "it": {
            1: ["Assistenza gentilissima, problema risolto in dieci minuti.",
                "Devo dire che il servizio clienti mi ha richiamato subito. Top.",
                "Operatrice preparata e cortese, finalmente."],
            0: ["Qual è l'orario del servizio clienti il sabato?",
                "Per l'assistenza meglio la chat o il numero verde?",
                "Qualcuno ha una mail diretta dell'assistenza?"],
            -1: ["{hours} ore di attesa al numero verde e poi cade la linea.",
                 "Assistenza introvabile: {days} giorni e nessuna risposta alla mail.",
                 "Chat dell'assistenza chiusa di nuovo. Ma è possibile?",
                 "Mi hanno passato quattro operatori e nessuno sapeva niente.",
                 "Ticket aperto da {days} giorni, risposta automatica e basta.",
                 "Al numero verde ti rispondono solo per venderti il decalcificante."]},
        "en": {
            1: ["Customer service sorted it in ten minutes, impressed.",
                "Support called me back the same day. Top."],
            0: ["What are customer service hours on Saturday?",
                "Is chat or phone support faster?"],
            -1: ["{hours} hours on hold and then the line drops.",
                 "{days} days and no reply to my support ticket.",
                 "Transferred four times and nobody knew anything."]}},
    "x7": {
        "it": {
            1: ["Mi hanno sostituito la Duetto X7 in {days} giorni, ora funziona bene.",
                "Aggiornamento: con la scheda nuova la X7 non dà più errore {code}.",
                "Tecnico arrivato, pompa cambiata, la Duetto X7 ora è perfetta."],
            0: ["Qualcuno sa se c'è un richiamo per la Duetto X7?",
                "Errore {code} sulla Duetto X7: cosa significa?",
                "La garanzia copre anche la pompa della Duetto X7?",
                "Quanti di voi hanno la Duetto X7 del lotto di luglio?",
                "Facciamo una lista di chi ha la Duetto X7 difettosa? Io ho l'errore {code}.",
                "Il centro assistenza di {city} ripara la Duetto X7 o la manda in sede?"],
            -1: ["La mia Duetto X7 dà errore {code} dopo due settimane.",
                 "Duetto X7: la pompa fa un rumore assurdo e il caffè esce tiepido.",
                 "Seconda Duetto X7 sostituita e stesso difetto. Basta.",
                 "La Duetto X7 perde acqua da sotto il serbatoio, altri con lo stesso problema?",
                 "{days} giorni senza macchina perché la Duetto X7 è in riparazione. Vergognoso.",
                 "Ennesimo errore {code}: la Duetto X7 è un progetto sbagliato, ritiratela.",
                 "Pagata 249 euro la Duetto X7 e dopo un mese è un soprammobile.",
                 "La Duetto X7 si spegne da sola a metà erogazione. Qualcuno ha risolto?"]},
        "en": {
            1: ["They replaced my Duetto X7 in {days} days, works fine now.",
                "Update: new board fitted and the X7 no longer shows {code}."],
            0: ["Is there a recall for the Duetto X7?",
                "Error {code} on the Duetto X7, what does it mean?",
                "Does the warranty cover the X7 pump?"],
            -1: ["My Duetto X7 shows error {code} after two weeks. Not acceptable.",
                 "The Duetto X7 pump sounds like a jet engine and the coffee comes out lukewarm.",
                 "Second Duetto X7 replacement, same fault. Done with this.",
                 "Duetto X7 leaking under the tank, anyone else?",
                 "Paid 249 euros for a Duetto X7 that's now a paperweight.",
                 "My X7 switches itself off mid-shot. Anyone fixed this?"]}},
    "office": {
        "it": {
            1: ["Il nuovo listino business è conveniente, abbiamo rinnovato.",
                "La Pro 2 in ufficio regge {cups} caffè al giorno senza problemi.",
                "Consegna puntuale anche questo mese, complimenti.",
                "Il tecnico è venuto in giornata, macchina come nuova.",
                "Da quando abbiamo la Pro 2 in ufficio nessuno va più al bar."],
            0: ["Qualcuno ha già ricevuto la fattura di {month}?",
                "Quante capsule consumate a settimana in ufficio? Noi circa {qty}.",
                "Conviene il comodato d'uso o comprare la macchina?",
                "Chi ordina le capsule questo mese? Io ho fatto l'ultimo ordine.",
                "Per la fattura elettronica serve il codice SDI nel profilo?",
                "Il tecnico per la manutenzione lo chiamate voi o passa da solo?"],
            -1: ["Ordine da {qty} capsule arrivato a metà, in ufficio siamo senza caffè.",
                 "Prezzi aumentati del {pct}% senza preavviso.",
                 "Il tecnico doveva venire martedì, mai visto.",
                 "Fattura di {month} sbagliata per la seconda volta.",
                 "Le Dek Sempione sono finite a metà mese e il riordino è bloccato.",
                 "Macchina ferma da lunedì, dodici persone senza caffè. Aiuto."]},
        "en": {
            1: ["The business price list is good value, we renewed."],
            0: ["How many capsules does your office use per week?"],
            -1: ["Half of our office order arrived, we're out of coffee."]}},
    "latte": {
        "it": {
            1: ["Che cuore perfetto! 😍", "Latte art pazzesca, ci fai un tutorial?",
                "Questa rosetta è un'opera d'arte.", "Il montalatte della Lattea fa miracoli."],
            0: ["Che latte usi? Intero o vegetale?", "Con che lancia l'hai montato?"],
            -1: ["Con la Lattea la schiuma mi viene sempre troppo liquida.",
                 "Bella foto ma la mia macchina non monta così neanche per sbaglio."]},
        "en": {
            1: ["Gorgeous rosetta! 😍", "That tulip is perfect, tutorial please!",
                "The Lattea frother really does wonders."],
            0: ["Whole milk or oat?", "Which jug size do you use?"],
            -1: ["My Lattea foam always comes out too thin.",
                 "Nice photo but mine never looks like that."]}},
}

# Tails that make the same sentence sound like a different person.
TAILS = {"it": {1: ["Dieci e lode.", "Niente da dire.", "Finalmente una bella sorpresa.", "Bravi!"],
                0: ["Voi che dite?", "Grazie in anticipo!", "Qualcuno ne sa di più?", "Tanto per sapere."],
                -1: ["E non è la prima volta.", "Sono cliente da {years} anni, mai successo.", "Che pazienza.",
                     "Sto pensando di cambiare marca."]},
         "en": {1: ["Highly recommend.", "Pleasantly surprised.", "Well done!"],
                0: ["Any thoughts?", "Thanks in advance!", "Just curious."],
                -1: ["Not the first time either.", "Customer for {years} years, never had this.",
                     "Thinking of switching brands."]}}

# Openings for answers: taking up the other's tone, or going against it.
AGREE = {"it": ["Confermo.", "Anche a me!", "Esatto.", "Concordo.", "Stessa esperienza.", "Verissimo.",
                "Idem."],
         "en": ["Same here.", "Agreed.", "Exactly this.", "Can confirm.", "Same experience."]}
DISAGREE = {"it": ["Da me invece no.", "Mah, io non direi.", "Sarà, ma non sono d'accordo.",
                   "Io mi trovo diversamente."],
            "en": ["Not my experience.", "Hmm, not really.", "Can't agree with that."]}
THANKS = {"it": ["Grazie mille, provo così!", "Grazie, gentilissimo/a 🙏", "Perfetto, grazie del consiglio!"],
          "en": ["Thanks, will try that!", "Thank you, super helpful 🙏"]}
ANSWERS = {  # a neutral answer to a question, whatever the topic
    "it": ["Io ho chiesto all'assistenza e mi hanno detto di sì.", "Dipende, a me ci hanno messo {days} giorni.",
           "C'è scritto nel manuale, pagina {n}.", "Ti scrivo in privato.", "Bella domanda, interessa anche a me.",
           "Non saprei, io ho sempre fatto così.", "Mi pare di no, ma chiederei conferma."],
    "en": ["I asked support and they said yes.", "Depends, mine took {days} days.", "It's in the manual, page {n}.",
           "Good question, I'd like to know too.", "Not sure, I've always done it that way."]}
CITE = {"it": ["come dice sempre @{h}", "chiedete a @{h}, ne sa più di tutti", "cc @{h}"],
        "en": ["as @{h} says", "ask @{h}, they know this stuff", "cc @{h}"]}
HOST_ANSWERS = {"it": ["Latte intero freddissimo, è tutto lì!", "Brocca da 350 ml e lancia leggermente inclinata.",
                       "Sì, con la Lattea si può fare: serve solo un po' di pratica!", "Domani pubblico il tutorial 😉",
                       "Capsula Intenso Brera, sempre."],
                "en": ["Cold whole milk, that's the whole trick!", "A 350 ml jug and a slightly tilted wand.",
                       "Tutorial coming tomorrow 😉"]}
EMOJI = {1: ["😍", "☕", "👌", "🙌", "👍"], 0: ["🤔", "☕"], -1: ["😡", "😤", "🙄", "👎", "😩"]}

BRAND_REPLY = {"it": ["Ciao {first}, ci dispiace per l'inconveniente. Scrivici in DM il numero d'ordine e ti "
                      "aiutiamo subito.",
                      "Ciao {first}, abbiamo preso in carico la tua segnalazione: un collega ti contatterà "
                      "entro 48 ore.",
                      "Ciao {first}, grazie per la pazienza. Ti abbiamo scritto in privato."],
               "en": ["Hi {first}, sorry to hear that. Please DM us your order number and we'll sort it out.",
                      "Hi {first}, thanks for your patience: our team will contact you within 48 hours."]}
BRAND_POSTS = {"it": ["Nuova {capsule}: note di cacao e frutta secca. Voi l'avete già provata?",
                      "Il segreto di un buon espresso? Acqua fresca e macchina decalcificata ogni {n} settimane.",
                      "La {machine} è tornata disponibile sul nostro shop.",
                      "Buongiorno da Milano! Qual è la vostra capsula del mattino?"],
               "en": ["Meet our new {capsule}: cocoa and toasted nuts. Have you tried it yet?",
                      "Tip: fresh water and descaling every {n} weeks keep your espresso perfect.",
                      "The {machine} is back in stock, shipping across Europe.",
                      "Good morning from Milan! Which capsule starts your day?"]}


@dataclass(frozen=True)
class Community:
    """One planted community: where it lives and how it talks."""

    key: str
    name: str
    platform: str
    share: float  # of the people
    leaders: int
    english: float  # share of English speakers
    mood: float  # mean polarity of its members' baseline
    topics: tuple[str, ...]
    threads: int  # conversations for 240 people at scale 1 (comment platforms: brand posts)
    complaints: bool = False  # a faulty product: recent traffic, #DuettoX7, the brand answers
    office: bool = False  # office hours on weekdays


COMMUNITIES = [
    Community("x7", "Duetto X7 guasti", "twitter", 0.19, 3, 0.3, -0.45,
              ("x7", "x7", "x7", "service", "refund", "descaling"), 58, complaints=True),
    Community("milano", "Espresso Milano", "twitter", 0.20, 3, 0.05, 0.35,
              ("taste", "taste", "machine", "compat", "delivery"), 52),
    Community("baristi", "Baristi a casa", "telegram", 0.19, 3, 0.1, 0.1,
              ("descaling", "taste", "machine", "compat", "descaling"), 105),
    Community("ufficio", "Ufficio & Caffè", "whatsapp", 0.10, 2, 0.0, -0.1,
              ("office", "office", "delivery", "machine", "service"), 62, office=True),
    Community("international", "International customers", "facebook", 0.17, 3, 0.85, -0.05,
              ("delivery", "compat", "refund", "taste", "service"), 9),
    Community("instagram", "Latte art Instagram", "instagram", 0.15, 2, 0.4, 0.45,
              ("latte", "latte", "taste", "machine"), 8),
]
"""The communities, most important first (a small ``people`` keeps the first few)."""

# Second channels: people of community A who also speak in community B (same e-mail or phone in crm.csv).
BRIDGES = [("milano", "baristi", 3), ("ufficio", "x7", 3), ("international", "instagram", 2),
           ("instagram", "milano", 2), ("baristi", "x7", 2)]

HOURS = {  # local hour-of-day weights, 0..23
    "leisure": [1, 0, 0, 0, 0, 0, 1, 5, 8, 6, 4, 4, 5, 7, 5, 3, 3, 4, 5, 6, 8, 9, 7, 3],
    "office": [0, 0, 0, 0, 0, 0, 0, 1, 6, 9, 9, 8, 6, 4, 7, 8, 7, 5, 2, 1, 0, 0, 0, 0],
}


# -- the manifest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleManifest:
    """What :func:`generate_sample` wrote.

    ``files`` are the export files to import (not ``crm``). ``people`` counts
    distinct customers (the brand excluded; one person with accounts on two
    channels counts once); ``accounts`` their accounts plus the brand's.
    ``interactions`` is the number of message records in ``files``: tweets in
    the pages' ``data``, WhatsApp messages (system lines excluded), Telegram
    messages of type ``message``, generic rows. ``leaders`` maps each
    community's name to its planted leaders' display names (``@username`` on
    Twitter), ``leader_accounts`` to their account keys, ``communities`` to
    every member's account keys (the planted partition). ``per_kind`` counts
    interactions by platform and kind as planted (an original tweet naming
    someone is a ``mention``); ``languages`` counts texts by language;
    ``sentiment`` by planted polarity. ``timezone`` is the zone of the local
    times in the WhatsApp and Telegram exports (import them with it).
    """

    directory: Path
    files: list[Path]
    people: int
    interactions: int
    leaders: dict[str, list[str]]
    brand_accounts: list[str] = field(default_factory=list)
    leader_accounts: dict[str, list[str]] = field(default_factory=dict)
    communities: dict[str, list[str]] = field(default_factory=dict)
    accounts: int = 0
    crm: Path | None = None
    per_file: dict[str, int] = field(default_factory=dict)
    per_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    sentiment: dict[str, int] = field(default_factory=dict)
    seed: int = 7
    reference_date: datetime = REFERENCE_DATE
    timezone: str = "Europe/Rome"


# -- the world: people and their accounts ----------------------------------------------------------


@dataclass
class Account:
    platform: str
    native_id: str
    handle: str  # username / display name as the platform shows it
    name: str  # display name


@dataclass(eq=False)
class Person:
    pid: int
    name: str
    lang: str
    community: str
    leader: bool
    mood: float  # baseline polarity in [-1, 1]
    activity: float
    accounts: dict[str, Account] = field(default_factory=dict)
    email: str | None = None
    phone: str | None = None
    brand: bool = False

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclass(eq=False)
class Msg:
    platform: str
    community: str
    author: Person
    ts: datetime
    kind: str  # post | reply | quote | share | message
    lang: str
    polarity: int
    text: str | None
    parent: Msg | None = None
    root: Msg | None = None
    mentions: list[Person] = field(default_factory=list)
    addressee: Person | None = None  # who a reply/comment answers (generic target)
    native_id: str = ""
    media: bool = False
    topic: str = ""
    used: list[str] = field(default_factory=list)  # on a conversation's root: the templates it used


@dataclass
class World:
    rng: random.Random
    people: list[Person]
    communities: list[Community]
    brand: Person
    members: dict[str, list[Person]]  # community key -> home members
    guests: dict[str, list[Person]]  # community key -> bridge people from elsewhere
    ids: set[str] = field(default_factory=set)

    def on(self, key: str) -> list[Person]:
        return self.members[key] + self.guests[key]


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and (c.isalnum() or c == " "))


def _digits(rng: random.Random, n: int) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(n - 1))


def _unique(world: World, make) -> str:
    while True:
        value = make()
        if value not in world.ids:
            world.ids.add(value)
            return value


def _build_world(rng: random.Random, people: int) -> World:
    comms = COMMUNITIES[: max(1, min(len(COMMUNITIES), people // 2))]
    sizes = _apportion(people, [c.share for c in comms], minimum=2)
    names: set[str] = set()
    everyone: list[Person] = []
    members: dict[str, list[Person]] = {c.key: [] for c in comms}
    for comm, size in zip(comms, sizes):
        n_leaders = min(comm.leaders, max(1, size // 5))
        majority = "en" if comm.english > 0.5 else "it"
        for i in range(size):
            if i < n_leaders:  # leaders speak the community's language; a bilingual one has a minority voice
                minority = 0.2 < comm.english < 0.8 and i == n_leaders - 1 and n_leaders > 1
                lang = ({"it": "en", "en": "it"}[majority]) if minority else majority
            else:
                lang = "en" if rng.random() < comm.english else "it"
            name = _fresh_name(rng, lang, names)
            leader = i < n_leaders
            if leader:  # leaders hold strong views: champions or critics, a critic first where the mood is sour
                sign = -1 if (i == 0) == (comm.mood < 0) else 1
                mood = sign * rng.uniform(0.55, 0.8)
            else:
                mood = max(-0.9, min(0.9, rng.gauss(comm.mood, 0.3)))
            activity = 3.0 if leader else min(6.0, rng.paretovariate(1.6))
            person = Person(len(everyone), name, lang, comm.key, leader, mood, activity)
            everyone.append(person)
            members[comm.key].append(person)
    brand = Person(-1, BRAND_NAME, "it", "brand", False, 0.0, 0.0, brand=True)
    world = World(rng, everyone, comms, brand, members, {c.key: [] for c in comms})
    for person in everyone:
        _give_account(world, person, _community(world, person.community).platform)
    for home, away, count in BRIDGES:
        if home not in members or away not in members:
            continue
        platform = _community(world, away).platform
        candidates = [p for p in members[home] if not p.leader and platform not in p.accounts]
        for person in rng.sample(candidates, min(count, len(candidates))):
            _give_account(world, person, platform)
            world.guests[away].append(person)
            for account in person.accounts.values():
                if account.platform == "telegram":  # the CRM matches the name the export shows
                    account.name = person.name
    for person in everyone:
        if len(person.accounts) > 1 or "whatsapp" in person.accounts:
            person.phone = person.phone or _phone(rng, person.lang)
        if len(person.accounts) > 1:
            local = _ascii(person.name).lower().replace(" ", ".")
            domain = rng.choice(["gmail.com", "libero.it", "outlook.com", "icloud.com"])
            person.email = f"{local}{rng.randint(1, 99)}@{domain}"
    _brand_accounts(world)
    return world


def _apportion(total: int, shares: list[float], minimum: int) -> list[int]:
    raw = [total * s / sum(shares) for s in shares]
    sizes = [max(minimum, int(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - int(raw[i]), -i), reverse=True)
    i = 0
    while sum(sizes) < total:
        sizes[order[i % len(order)]] += 1
        i += 1
    while sum(sizes) > total:
        j = max(range(len(sizes)), key=lambda k: sizes[k])
        sizes[j] -= 1
    return sizes


def _fresh_name(rng: random.Random, lang: str, taken: set[str]) -> str:
    first, last = (IT_FIRST, IT_LAST) if lang == "it" else (EN_FIRST, EN_LAST)
    while True:
        name = f"{rng.choice(first)} {rng.choice(last)}"
        if name not in taken:
            taken.add(name)
            return name


def _phone(rng: random.Random, lang: str = "it") -> str:
    if lang == "en":
        return rng.choice([f"+49 15{rng.randint(1, 9)} {rng.randint(1000000, 9999999)}",
                           f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}",
                           f"+31 6 {rng.randint(10000000, 99999999)}"])
    return f"+39 3{rng.randint(20, 93)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def _username(rng: random.Random, person: Person, *, dots: bool, maxlen: int) -> str:
    first, *rest = _ascii(person.name).lower().split()
    last = "".join(rest)
    sep = rng.choice([".", "_", ""] if dots else ["_", ""])
    style = rng.randrange(5)
    if style == 0:
        base = f"{first}{sep}{last}"
    elif style == 1:
        base = f"{first}{sep}{last}{rng.randint(1, 99)}"
    elif style == 2:
        base = f"{first[0]}{last}"
    elif style == 3:
        base = f"{first}{sep}{rng.choice(['coffee', 'espresso', 'caffe', 'barista', 'crema'])}"
    else:
        base = f"{last}{sep}{first[:3]}{rng.randint(70, 99)}"
    return base[:maxlen]


def _give_account(world: World, person: Person, platform: str) -> None:
    rng = world.rng
    if platform == "twitter":
        native = _unique(world, lambda: _digits(rng, rng.choice([9, 10, 19])))
        handle = _unique(world, lambda: _username(rng, person, dots=False, maxlen=15))
        name = person.name if rng.random() < 0.75 else f"{person.first} {rng.choice(NAME_EMOJI)}"
        account = Account(platform, native, handle, name)
    elif platform == "telegram":
        native = "user" + _unique(world, lambda: _digits(rng, 10))
        handle = _unique(world, lambda: _username(rng, person, dots=False, maxlen=32))
        if len(handle) < 5 or rng.random() < 0.3:  # many Telegram users have no username
            handle = ""
        name = person.name
        if not person.accounts and rng.random() < 0.4:  # a nickname; second-channel people use their full name
            name = rng.choice([person.first, f"{person.first} {rng.choice(NAME_EMOJI)}"])
        account = Account(platform, native, handle, name)
    elif platform == "whatsapp":
        # What the exporter's phone shows: a saved contact name, or the number.
        person.phone = _phone(rng, person.lang)
        roll = rng.random() if not person.leader else 1.0  # the exporter has saved the leaders' numbers
        if roll < 0.12:
            shown = person.phone
        elif roll < 0.22:
            shown = f"{person.first} {rng.choice(NAME_EMOJI)}"
        elif roll < 0.45 and _community(world, person.community).office:
            shown = f"{person.first} {rng.choice(COMPANIES)}"
        else:
            shown = person.name
        shown = _unique(world, lambda: shown if shown not in world.ids else f"{person.name} {rng.randint(2, 9)}")
        account = Account(platform, shown, shown, shown)
    else:  # instagram, facebook: Graph API scoped ids
        prefix = "1784" if platform == "instagram" else "6"
        native = _unique(world, lambda: prefix + _digits(rng, 13 if platform == "instagram" else 15))
        handle = (_unique(world, lambda: _username(rng, person, dots=True, maxlen=30)) if platform == "instagram"
                  else person.name)
        account = Account(platform, native, handle, person.name)
    person.accounts[platform] = account


def _brand_accounts(world: World) -> None:
    platforms = {c.platform for c in world.communities} - {"whatsapp", "telegram"}
    brand = world.brand
    for platform in sorted(platforms):
        if platform == "twitter":
            native = _unique(world, lambda: _digits(world.rng, 19))
            brand.accounts[platform] = Account(platform, native, "CaffeAurora", "Caffè Aurora")
        elif platform == "instagram":
            native = _unique(world, lambda: "1784" + _digits(world.rng, 13))
            brand.accounts[platform] = Account(platform, native, "caffeaurora", "Caffè Aurora")
        else:
            native = _unique(world, lambda: _digits(world.rng, 15))
            brand.accounts[platform] = Account(platform, native, "Caffè Aurora", "Caffè Aurora")


def _community(world: World, key: str) -> Community:
    return next(c for c in world.communities if c.key == key)


# -- what people say ---------------------------------------------------------------------------------


def _polarity(rng: random.Random, mood: float) -> int:
    """Draw -1/0/1 around a baseline mood in [-1, 1]."""
    p_pos = max(0.05, 0.3 + 0.6 * mood)
    p_neg = max(0.05, 0.3 - 0.6 * mood)
    roll = rng.random() * (p_pos + p_neg + 0.4)
    return 1 if roll < p_pos else -1 if roll < p_pos + p_neg else 0


def _answer_polarity(rng: random.Random, person: Person, parent: Msg) -> int:
    """Followers take up their leader's tone; peers sway each other a little; the brand not at all."""
    if parent.author.brand:
        pull = 0.0
    elif parent.author.leader and parent.author.community == person.community:
        pull = 0.7
    elif parent.author.leader:
        pull = 0.45
    else:
        pull = 0.2
    return parent.polarity if rng.random() < pull else _polarity(rng, person.mood)


def _slots(rng: random.Random, lang: str) -> dict[str, str]:
    machine, machine2 = rng.sample(MACHINES[:3], 2)
    capsule, capsule2 = rng.sample(CAPSULES, 2)
    return {"machine": machine, "machine2": machine2, "capsule": capsule, "capsule2": capsule2,
            "city": rng.choice(CITIES[lang]), "days": str(rng.randint(5, 40)), "hours": str(rng.randint(1, 3)),
            "n": str(rng.choice([3, 4, 6, 8, 10, 12])), "qty": str(rng.choice([150, 200, 300, 400, 600])),
            "cups": str(rng.randint(3, 9) * 10), "code": rng.choice(ERRORS), "years": str(rng.randint(3, 12)),
            "order": f"#{rng.randint(100000, 999999)}", "month": rng.choice(MONTHS),
            "pct": str(rng.choice([8, 12, 15, 20]))}


ELISION = re.compile(r"\b([Ll]|[Dd]ell|[Aa]ll|[Ss]ull|[Dd]all|[Nn]ell)a (Aurora)")  # la Aurora -> l'Aurora


def _sentence(rng: random.Random, topic: str, lang: str, polarity: int, used: list[str] | None = None) -> str:
    """A filled template; ``used`` (a conversation's templates so far) is avoided while others remain."""
    cell = (TEMPLATES[topic].get(lang) or TEMPLATES[topic]["it"])[polarity]
    fresh = [t for t in cell if used is None or t not in used] or cell
    template = rng.choice(fresh)
    if used is not None:
        used.append(template)
    text = template.format_map(_slots(rng, lang))
    tail = rng.choice(TAILS[lang][polarity]).format_map(_slots(rng, lang))
    if rng.random() < 0.2 and tail not in text:
        text += " " + tail
    return ELISION.sub(r"\1'\2", text)


def _say(rng: random.Random, person: Person, topic: str, polarity: int, parent: Msg | None,
         used: list[str]) -> str:
    """What ``person`` writes on ``topic`` with ``polarity``, in their language: an answer to a
    question, or a statement opened by agreeing or disagreeing with ``parent``."""
    lang = person.lang
    question = parent is not None and "?" in (parent.text or "")
    if question and polarity == 0 and rng.random() < 0.6:
        return rng.choice(ANSWERS[lang]).format_map(_slots(rng, lang))
    answered_me = parent is not None and parent.parent is not None and parent.parent.author is person
    if answered_me and parent.author.leader and not question and polarity >= 0 and rng.random() < 0.5:
        return rng.choice(THANKS[lang])
    text = _sentence(rng, topic, lang, polarity, used)
    if parent is not None and not parent.author.brand and polarity and parent.polarity and rng.random() < 0.5:
        opener = AGREE[lang] if polarity == parent.polarity else DISAGREE[lang]
        text = f"{rng.choice(opener)} {text}"
    if rng.random() < 0.25 and unicodedata.category(text[-1]) != "So":
        text += " " + rng.choice(EMOJI[polarity])
    return text


# -- when they say it -------------------------------------------------------------------------------


def _rome_offset(ts: datetime) -> timedelta:
    """Europe/Rome's UTC offset (EU rule: summer time from the last Sunday of March to the last
    Sunday of October, 01:00 UTC), computed here so the output never depends on a tz database."""

    def last_sunday(year: int, month: int) -> datetime:
        day = datetime(year, month, 31, 1, tzinfo=timezone.utc)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    summer = last_sunday(ts.year, 3) <= ts < last_sunday(ts.year, 10)
    return timedelta(hours=2 if summer else 1)


def _local(ts: datetime) -> datetime:
    return (ts + _rome_offset(ts)).replace(tzinfo=None)


def _start_time(rng: random.Random, comm: Community) -> datetime:
    """A thread's start: a day in the window (weekdays for office buyers, late weeks for the faulty
    machine) and a realistic local hour."""
    while True:
        day = rng.betavariate(3, 1) if comm.complaints else rng.random()
        local_day = (REFERENCE_DATE - timedelta(days=DAYS)).replace(tzinfo=None) + timedelta(days=int(day * DAYS))
        profile = "office" if comm.office else "leisure"
        if profile == "office" and local_day.weekday() >= 5 and rng.random() < 0.9:
            continue
        hour = rng.choices(range(24), weights=HOURS[profile])[0]
        local = local_day + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
        utc = local.replace(tzinfo=timezone.utc)
        utc -= _rome_offset(utc)
        if utc < REFERENCE_DATE - timedelta(hours=6):
            return utc


def _delay(rng: random.Random, platform: str) -> timedelta:
    """The wait before an answer: minutes in group chats, up to hours elsewhere."""
    if platform in ("whatsapp", "telegram"):
        return timedelta(seconds=int(rng.uniform(20, 60) + rng.expovariate(1 / 240)))
    return timedelta(seconds=int(60 + rng.expovariate(1 / 3600)))


def _after(rng: random.Random, ts: datetime, platform: str) -> datetime:
    """The time of an answer to a message sent at ``ts``: people sleep between 1 and 7 in Rome."""
    later = ts + _delay(rng, platform)
    local = _local(later)
    if 1 <= local.hour < 7:
        later += timedelta(hours=7 - local.hour, minutes=rng.randrange(90))
    return later


# -- threads --------------------------------------------------------------------------------------------


def _pick(rng: random.Random, pool: list[Person], spoken: set[int], avoid: set[int]) -> Person:
    """A responder: someone who has not spoken yet now and then (so everyone appears), else by activity."""
    choices = [p for p in pool if p.pid not in avoid] or pool
    silent = [p for p in choices if p.pid not in spoken]
    if silent and rng.random() < 0.35:
        return rng.choice(silent)
    return rng.choices(choices, weights=[p.activity * (0.25 if p.leader else 1.0) for p in choices])[0]


def _thread(world: World, comm: Community, root_author: Person, start: datetime, size: int,
            spoken: set[int], *, root_parent: Msg | None = None, chat: bool = False) -> list[Msg]:
    """One conversation: a root message and ``size`` answers.

    Answers go to earlier messages, leaders' first; in a chat (no reply
    threading) only to one of the last two speakers, and a leader in the
    conversation keeps talking, as the import rule assumes.
    """
    rng = world.rng
    topic = rng.choice(comm.topics)
    root = _msg(world, comm, root_author, start, topic, root_parent)
    msgs, ts = [root], start
    spoken.add(root_author.pid)
    leaders = [p for p in world.members[comm.key] if p.leader]
    for _ in range(size):
        ts = _after(rng, ts, comm.platform)
        if ts >= REFERENCE_DATE:
            break
        in_thread = [m.author for m in msgs if m.author.leader]
        last = msgs[-1].author
        if in_thread and last not in in_thread[-1:] and rng.random() < (0.45 if chat else 0.15):
            author = in_thread[-1]
        elif not in_thread and leaders and not root_author.leader and rng.random() < 0.25:
            author = rng.choice(leaders)  # a leader steps in to answer a member's question
        else:
            author = _cross_pick(world, comm, spoken, {last.pid})
        parent = _choose_parent(rng, msgs, author, chat)
        if parent is None:
            continue
        msgs.append(_msg(world, comm, author, ts, topic, parent))
        spoken.add(author.pid)
    return msgs


def _choose_parent(rng: random.Random, msgs: list[Msg], author: Person, chat: bool) -> Msg | None:
    if chat:
        recent: list[Msg] = []
        for m in reversed(msgs):
            if m.author is not author and all(r.author is not m.author for r in recent):
                recent.append(m)
            if len(recent) == 2:
                break
        candidates = recent
    else:
        candidates = [m for m in msgs if m.author is not author and m.kind != "share"]
    if not candidates:
        return None
    weights = [(6.0 if m.author.leader else 1.0) * (2.0 if m is msgs[0] else 1.0) for m in candidates]
    return rng.choices(candidates, weights=weights)[0]


def _msg(world: World, comm: Community, author: Person, ts: datetime, topic: str, parent: Msg | None) -> Msg:
    rng = world.rng
    polarity = _answer_polarity(rng, author, parent) if parent is not None else _polarity(rng, author.mood)
    root = parent.root or parent if parent is not None else None
    used: list[str] = root.used if root is not None else []
    text = _say(rng, author, topic, polarity, parent, used)
    msg = Msg(comm.platform, comm.key, author, ts, "reply" if parent is not None else "post", author.lang,
              polarity, text, parent=parent, root=root, addressee=parent.author if parent else None, topic=topic,
              used=used if root is None else [])
    if rng.random() < 0.08 and not author.leader:
        answered = {parent.author, (root or parent).author} if parent is not None else set()
        leaders = [p for p in world.members[comm.key]
                   if p.leader and p is not author and p not in answered and comm.platform in p.accounts]
        if leaders:
            msg.mentions.append(rng.choice(leaders))
    return msg


def _brand_message(world: World, comm: Community, ts: datetime, parent: Msg | None, lang: str) -> Msg:
    rng = world.rng
    slots = _slots(rng, lang)
    if parent is None:
        text = rng.choice(BRAND_POSTS[lang]).format_map(slots)
        return Msg(comm.platform, comm.key, world.brand, ts, "post", lang, 0, text)
    text = rng.choice(BRAND_REPLY[lang]).format(first=parent.author.first)
    return Msg(comm.platform, comm.key, world.brand, ts, "reply", lang, 0, text, parent=parent,
               root=parent.root or parent, addressee=parent.author)


def _sizes(rng: random.Random, leader: bool) -> int:
    return rng.randint(4, 13) if leader else rng.choice([0, 0, 1, 1, 2, 2, 3, 4])


def _root_author(rng: random.Random, world: World, comm: Community, spoken: set[int]) -> Person:
    leaders = [p for p in world.members[comm.key] if p.leader]
    if leaders and rng.random() < 0.55:
        return rng.choice(leaders)
    return _pick(rng, world.on(comm.key), spoken, set())


def _threaded_traffic(world: World, comm: Community, n: int, spoken: set[int]) -> list[Msg]:
    """Twitter, Telegram and WhatsApp: ``n`` conversations started by leaders or members."""
    rng = world.rng
    msgs: list[Msg] = []
    chat = comm.platform == "whatsapp"
    for _ in range(n):
        author = _root_author(rng, world, comm, spoken)
        thread = _thread(world, comm, author, _start_time(rng, comm), _sizes(rng, author.leader), spoken, chat=chat)
        if comm.platform == "twitter":
            thread += _twitter_extras(world, comm, thread, spoken)
        msgs += thread
    return msgs


def _twitter_extras(world: World, comm: Community, thread: list[Msg], spoken: set[int]) -> list[Msg]:
    """Retweets and quotes of a leader's tweet; the brand answering complaints."""
    rng = world.rng
    root, extra = thread[0], []
    if root.author.leader:
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            ts = _after(rng, root.ts + _delay(rng, "twitter") * rng.uniform(0, 3), "twitter")
            sharer = _cross_pick(world, comm, spoken, {root.author.pid})
            if ts >= REFERENCE_DATE:
                continue
            kind = "quote" if rng.random() < 0.25 else "share"
            if kind == "share":
                msg = Msg("twitter", comm.key, sharer, ts, "share", root.lang, root.polarity, None,
                          parent=root, root=root, addressee=root.author)
            else:
                polarity = _answer_polarity(rng, sharer, root)
                text = _sentence(rng, root.topic, sharer.lang, polarity, root.used)
                msg = Msg("twitter", comm.key, sharer, ts, "quote", sharer.lang, polarity, text,
                          parent=root, root=root, addressee=root.author)
            extra.append(msg)
            spoken.add(sharer.pid)
    elif comm.complaints and root.polarity < 0 and rng.random() < 0.6:
        ts = root.ts + timedelta(minutes=rng.randint(20, 600))
        if ts < REFERENCE_DATE:
            extra.append(_brand_message(world, comm, ts, root, root.lang))
    if comm.complaints and root.polarity < 0 and rng.random() < 0.5:
        root.mentions.append(world.brand)
    return extra


def _cross_pick(world: World, comm: Community, spoken: set[int], avoid: set[int]) -> Person:
    """Mostly a member; now and then someone of another community on the same platform."""
    rng = world.rng
    others = [c for c in world.communities if c.platform == comm.platform and c.key != comm.key]
    if others and rng.random() < 0.15:
        return _pick(rng, world.on(rng.choice(others).key), spoken, avoid)
    return _pick(rng, world.on(comm.key), spoken, avoid)


def _comment_traffic(world: World, comm: Community, n_posts: int, spoken: set[int]) -> list[Msg]:
    """Facebook / Instagram: the brand posts; people comment; leaders' comments draw reply threads."""
    rng = world.rng
    msgs: list[Msg] = []
    for _ in range(n_posts):
        start = _start_time(rng, comm)
        post = _brand_message(world, comm, start, None, "en" if comm.english > 0.5 else rng.choice(["it", "en"]))
        msgs.append(post)
        for _ in range(rng.randint(4, 8)):
            ts = _after(rng, start + _delay(rng, comm.platform) * rng.uniform(0, 5), comm.platform)
            author = _root_author(rng, world, comm, spoken)
            if ts < REFERENCE_DATE:
                msgs += _thread(world, comm, author, ts, _sizes(rng, author.leader), spoken, root_parent=post)
    return msgs


def _live_chat(world: World, comm: Community, spoken: set[int], size: int) -> list[Msg]:
    """An Instagram Live launch: a chat stream where the guest leader answers people by @name."""
    rng = world.rng
    host = next(p for p in world.members[comm.key] if p.leader)
    start = REFERENCE_DATE - timedelta(days=10, hours=6, minutes=30)  # Wednesday 21 October, 19:30 in Rome
    pool = [p for p in world.on(comm.key) if p is not host]
    msgs: list[Msg] = []
    answered: list[Msg] = []
    ts = start
    for _ in range(size):
        ts += timedelta(seconds=rng.randint(5, 40))
        waiting = [m for m in msgs[-6:] if m.author is not host and "?" in (m.text or "") and m not in answered]
        if waiting and rng.random() < 0.4:
            asked = waiting[-1]
            answered.append(asked)
            lang = asked.lang
            text = f"@{asked.author.accounts['instagram'].handle} {rng.choice(HOST_ANSWERS[lang])}"
            msg = Msg("instagram", comm.key, host, ts, "message", lang, 1, text, addressee=asked.author,
                      mentions=[asked.author])
        else:
            author = _pick(rng, pool, spoken, set())
            last_host = next((m for m in reversed(msgs) if m.author is host), None)
            polarity = _answer_polarity(rng, author, last_host) if last_host else _polarity(rng, author.mood)
            text = _sentence(rng, rng.choice(comm.topics), author.lang, polarity)
            to_host = last_host is not None and rng.random() < 0.5
            if to_host:
                text = f"@{host.accounts['instagram'].handle} {text}"
            msg = Msg("instagram", comm.key, author, ts, "message", author.lang, polarity, text,
                      addressee=host if to_host else None, mentions=[host] if to_host else [])
        msgs.append(msg)
        spoken.add(msg.author.pid)
    return msgs


def _traffic(world: World, scale: float) -> list[Msg]:
    spoken: set[int] = set()
    msgs: list[Msg] = []
    per_capita = scale * len(world.people) / 240  # conversations grow with the community
    for comm in world.communities:
        n = max(2, round(comm.threads * per_capita))
        if comm.platform in ("facebook", "instagram"):
            msgs += _comment_traffic(world, comm, n, spoken)
            if comm.platform == "instagram":
                msgs += _live_chat(world, comm, spoken, max(20, round(160 * per_capita)))
        else:
            msgs += _threaded_traffic(world, comm, n, spoken)
    # Everyone appears at least once: the silent answer a thread of their community.
    said = {(m.author.pid, m.platform) for m in msgs}
    for person in world.people:
        for platform in sorted(person.accounts):
            if (person.pid, platform) in said:
                continue
            comm = next(c for c in world.communities if c.platform == platform
                        and (c.key == person.community or person in world.guests[c.key]))
            here = [m for m in msgs if m.platform == platform and m.community == comm.key and m.text is not None
                    and not m.author.brand and m.author is not person and m.kind != "share"]
            starters = [m for m in here if m.parent is None or m.parent.author.brand]
            parent = world.rng.choice(starters or here)
            ts = _after(world.rng, parent.ts, platform)
            if ts >= REFERENCE_DATE:
                ts = parent.ts + (REFERENCE_DATE - parent.ts) / 2
            msgs.append(_msg(world, comm, person, ts, world.rng.choice(comm.topics), parent))
    _media_and_multiline(world, msgs)
    _chat_kinds(world, msgs)
    msgs.sort(key=lambda m: (m.ts, m.platform))
    return msgs


def _chat_kinds(world: World, msgs: list[Msg]) -> None:
    """Group chats: WhatsApp has no reply threading, so every message is a ``message`` (its answer
    structure lives in timing only); on Telegram answers to leaders, and most others, use the reply
    button (``reply``), the rest just follow in the stream."""
    for m in msgs:
        if m.platform == "whatsapp":
            m.kind = "message"
        elif m.platform == "telegram":
            explicit = m.parent is not None and (m.parent.author.leader or world.rng.random() < 0.7)
            m.kind = "reply" if explicit else "message"


def _media_and_multiline(world: World, msgs: list[Msg]) -> None:
    """A few WhatsApp photos without caption and messages written over several lines."""
    rng = world.rng
    chat = [m for m in msgs if m.platform == "whatsapp" and m.parent is not None]
    for m in rng.sample(chat, min(3, len(chat))):
        m.media, m.text = True, None
    for i, m in enumerate(rng.sample([m for m in chat if not m.media], min(8, len(chat) // 20))):
        if i % 3 == 0 and m.topic == "office":
            first, second = rng.sample(CAPSULES, 2)
            m.text = (f"{m.text}\nIl nostro ordine di questo mese:\n- {rng.randint(2, 6)}00 {first}\n"
                      f"- {rng.randint(1, 3)}00 {second}")
        elif i % 3 == 1:
            m.text = f"Buongiorno a tutti!\n{m.text}"
        else:
            m.text = f"{m.text}\nFatemi sapere 🙏" if m.lang == "it" else f"{m.text}\nLet me know 🙏"


# -- ids ------------------------------------------------------------------------------------------------


TWITTER_EPOCH_MS = 1288834974657


def _assign_ids(world: World, msgs: list[Msg]) -> None:
    rng = world.rng
    for m in msgs:
        if m.platform == "twitter":  # a snowflake: the creation time in its upper bits
            ms = int(m.ts.timestamp() * 1000)
            m.native_id = _unique(world, lambda: str(((ms - TWITTER_EPOCH_MS) << 22) | rng.getrandbits(22)))
        elif m.platform == "instagram":
            m.native_id = _unique(world, lambda: "179" + _digits(rng, 14))
        elif m.platform == "facebook":
            post = m.root.native_id if m.root is not None else None
            if post is None:
                m.native_id = _unique(world, lambda: f"{world.brand.accounts['facebook'].native_id}_{_digits(rng, 16)}")
            else:
                m.native_id = _unique(world, lambda: f"{post.split('_')[1]}_{_digits(rng, 16)}")
    # Telegram numbers messages per chat: see _write_telegram.


# -- writers --------------------------------------------------------------------------------------------


def _iso_z(ts: datetime, millis: bool = False) -> str:
    text = ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if millis else "Z")


def _account(person: Person, platform: str) -> Account:
    return person.accounts[platform]


def _write_twitter(world: World, msgs: list[Msg], out: Path) -> dict[str, int]:
    """One file per community: API v2 search pages, newest first, 100 tweets a page."""
    counts: dict[str, int] = {}
    for comm in world.communities:
        if comm.platform != "twitter":
            continue
        tweets = sorted((m for m in msgs if m.platform == "twitter" and m.community == comm.key),
                        key=lambda m: int(m.native_id), reverse=True)
        name = f"search_{comm.key}.jsonl"
        lines = []
        for start in range(0, len(tweets), 100):
            page = tweets[start:start + 100]
            lines.append(json.dumps(_twitter_page(world, page, comm, last=start + 100 >= len(tweets)),
                                    ensure_ascii=True))
        (out / "twitter").mkdir(parents=True, exist_ok=True)
        _write(out / "twitter" / name, "\n".join(lines) + "\n")
        counts[f"twitter/{name}"] = len(tweets)
    return counts


def _tweet_text(m: Msg) -> str:
    if m.kind == "share":
        original = _tweet_text(m.parent)
        text = f"RT @{_account(m.parent.author, 'twitter').handle}: {original}"
        return text if len(text) <= 140 else text[:139] + "…"
    text = m.text or ""
    if m.kind == "reply":
        names = [_account(m.parent.author, "twitter").handle]
        if m.root is not None and m.root.author is not m.parent.author and m.root.author is not m.author:
            names.append(_account(m.root.author, "twitter").handle)
        text = " ".join(f"@{n}" for n in names) + " " + text
    for person in m.mentions:
        handle = _account(person, "twitter").handle
        text = f"{text} @{handle}" if person.brand else f"{text} ({_cite(m, handle)})"
    if m.topic == "x7" and m.kind == "post" and m.polarity < 0 and int(m.native_id) % 3 == 0:
        text += " #DuettoX7"
    if m.kind == "quote":
        text += f" https://t.co/{_tco(m.native_id)}"
    return text


def _cite(m: Msg, handle: str) -> str:
    options = CITE[m.lang]
    return options[int(m.native_id[-3:]) % len(options)].format(h=handle)


def _tco(seed: str) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(10))


MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


def _tweet(world: World, m: Msg, handles: dict[str, Account]) -> dict:
    text = _tweet_text(m)
    tweet: dict = {"id": m.native_id, "text": text, "author_id": _account(m.author, "twitter").native_id,
                   "conversation_id": (m.root or m).native_id if m.kind == "reply" else m.native_id,
                   "created_at": _iso_z(m.ts, millis=True), "lang": m.lang if m.kind != "share" else m.parent.lang,
                   "edit_history_tweet_ids": [m.native_id]}
    if m.kind == "reply":
        tweet["in_reply_to_user_id"] = _account(m.parent.author, "twitter").native_id
    if m.parent is not None:
        kind = {"reply": "replied_to", "quote": "quoted", "share": "retweeted"}[m.kind]
        tweet["referenced_tweets"] = [{"type": kind, "id": m.parent.native_id}]
    entities: dict = {}
    mentions = [{"start": x.start(), "end": x.end(), "username": x.group(1), "id": handles[x.group(1)].native_id}
                for x in MENTION.finditer(text) if x.group(1) in handles]
    if mentions:
        entities["mentions"] = mentions
    tags = [{"start": x.start(), "end": x.end(), "tag": x.group(1)} for x in HASHTAG.finditer(text)]
    if tags:
        entities["hashtags"] = tags
    if m.kind == "quote":
        url = text.rsplit(" ", 1)[1]
        parent_handle = _account(m.parent.author, "twitter").handle
        entities["urls"] = [{"start": len(text) - len(url), "end": len(text), "url": url,
                             "expanded_url": f"https://twitter.com/{parent_handle}/status/{m.parent.native_id}",
                             "display_url": f"twitter.com/{parent_handle}/s…"}]
    if entities:
        tweet["entities"] = entities
    return tweet


def _twitter_page(world: World, page: list[Msg], comm: Community, last: bool) -> dict:
    handles = {acc.handle: acc for p in [*world.people, world.brand] for acc in p.accounts.values()
               if acc.platform == "twitter"}
    data = [_tweet(world, m, handles) for m in page]
    referenced = []
    seen: list[str] = []
    for m in page:
        if m.parent is not None and m.parent.native_id not in seen:
            seen.append(m.parent.native_id)
            referenced.append(m.parent)
    by_id = {acc.native_id: acc for acc in handles.values()}
    users: dict[str, Account] = {}
    for tweet in data + [_tweet(world, r, handles) for r in referenced]:
        users.setdefault(tweet["author_id"], by_id[tweet["author_id"]])
        for mention in tweet.get("entities", {}).get("mentions", []):
            users.setdefault(mention["id"], handles[mention["username"]])
    rng = random.Random(page[0].native_id)
    meta = {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)}
    if not last:
        meta["next_token"] = "b26v89c19zqg8o3f" + "".join(rng.choice(string.ascii_lowercase + string.digits)
                                                           for _ in range(24))
    query = "%40CaffeAurora%20OR%20%23DuettoX7" if comm.complaints else "%22Caffe%20Aurora%22%20OR%20%23CaffeAurora"
    return {"data": data,
            "includes": {"users": [{"id": a.native_id, "name": a.name, "username": a.handle} for a in users.values()],
                         "tweets": [_tweet(world, r, handles) for r in referenced]},
            "meta": meta,
            "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all?expansions=author_id%2C"
                               "referenced_tweets.id%2Centities.mentions.username%2Cin_reply_to_user_id"
                               f"&query={query}&max_results=100",
                        "version": "2.14.0",
                        "retrieved_at": (REFERENCE_DATE + timedelta(hours=7)).isoformat()}}


def _wa_stamp(ts: datetime) -> str:
    """A WhatsApp Android timestamp in the Italian locale: local time, day first, minutes."""
    return _local(ts).strftime("%d/%m/%y, %H:%M")


def _write_whatsapp(world: World, msgs: list[Msg], out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for comm in world.communities:
        if comm.platform != "whatsapp":
            continue
        chat = [m for m in msgs if m.platform == "whatsapp" and m.community == comm.key]
        members = world.on(comm.key)
        admin = _account(members[0], "whatsapp").handle
        first = min(m.ts for m in chat) - timedelta(minutes=7)
        lines = [f"{_wa_stamp(first)} - I messaggi e le chiamate sono crittografati end-to-end. Nessuno al di fuori di "
                 "questa chat, nemmeno WhatsApp, può leggerli o ascoltarli. Tocca per saperne di più.",
                 f'{_wa_stamp(first)} - {admin} ha creato il gruppo "{comm.name}"',
                 f"{_wa_stamp(first)} - {admin} ti ha aggiunto"]
        for person in members[1:6]:
            added = _account(person, "whatsapp").handle
            lines.append(f"{_wa_stamp(first + timedelta(minutes=2))} - {admin} ha aggiunto {added}")
        firsts: dict[int, datetime] = {}
        for m in chat:
            firsts.setdefault(m.author.pid, m.ts)
        joiner = max(members[6:], key=lambda p: (firsts.get(p.pid, first), p.pid)) if len(members) > 6 else None
        joined_at = firsts[joiner.pid] - timedelta(minutes=10) if joiner is not None and joiner.pid in firsts else None
        written = 0
        for m in chat:
            if joined_at is not None and m.ts >= joined_at:
                joined = _account(joiner, "whatsapp").handle
                lines.append(f"{_wa_stamp(joined_at)} - {joined} si è unito tramite il link di invito del gruppo")
                joined_at = None
            body = "<Media omessi>" if m.media else _chat_text(m, "whatsapp")
            lines.append(f"{_wa_stamp(m.ts)} - {_account(m.author, 'whatsapp').handle}: {body}")
            written += 1
        name = f"Chat WhatsApp con {comm.name}.txt"
        (out / "whatsapp").mkdir(parents=True, exist_ok=True)
        _write(out / "whatsapp" / name, "\n".join(lines) + "\n")
        counts[f"whatsapp/{name}"] = written
    return counts


def _chat_text(m: Msg, platform: str) -> str:
    text = m.text or ""
    for person in m.mentions:
        acc = _account(person, platform)
        text += f" ({_cite_chat(m, acc, platform)})"
    return text


def _cite_chat(m: Msg, acc: Account, platform: str) -> str:
    handle = acc.handle if platform in ("telegram", "instagram") and acc.handle else acc.name
    options = CITE[m.lang]
    return options[len(m.text or "") % len(options)].format(h=handle)


def _telegram_text(m: Msg) -> tuple[str | list, list[dict]]:
    """Telegram Desktop's two renderings: ``text`` (a string, or a list mixing strings and entity
    objects) and ``text_entities`` (every piece typed)."""
    pieces: list[dict] = [{"type": "plain", "text": m.text or ""}]
    for person in m.mentions:
        acc = _account(person, "telegram")
        cite = CITE[m.lang][len(m.text or "") % len(CITE[m.lang])]
        before, after = cite.split("@{h}")
        pieces.append({"type": "plain", "text": f" ({before}"})
        if acc.handle:
            pieces.append({"type": "mention", "text": f"@{acc.handle}"})
        else:
            pieces.append({"type": "mention_name", "text": acc.name, "user_id": int(acc.native_id[4:])})
        pieces.append({"type": "plain", "text": f"{after})"})
    merged: list[dict] = []
    for piece in pieces:
        if piece["type"] == "plain" and merged and merged[-1]["type"] == "plain":
            merged[-1] = {"type": "plain", "text": merged[-1]["text"] + piece["text"]}
        elif piece["type"] != "plain" or piece["text"]:
            merged.append(piece)
    if len(merged) == 1 and merged[0]["type"] == "plain":
        return merged[0]["text"], merged
    return [p["text"] if p["type"] == "plain" else p for p in merged], merged


def _write_telegram(world: World, msgs: list[Msg], out: Path) -> dict[str, int]:
    """One Telegram Desktop export per group: messages and a few service records, in time order,
    numbered from 1 as a supergroup numbers them."""
    counts: dict[str, int] = {}
    for comm in world.communities:
        if comm.platform != "telegram":
            continue
        chat = [m for m in msgs if m.platform == "telegram" and m.community == comm.key]
        members = world.on(comm.key)
        first = chat[0].ts - timedelta(hours=2)
        pinned = next((m for m in chat if m.author.leader and m.parent is None), chat[0])
        services = [(first, members[0], "create_group", {"title": f"{comm.name} ☕", "members": []}),
                    (first + timedelta(minutes=5), members[1], "join_group_by_link", {"inviter": "Group"}),
                    (pinned.ts + timedelta(hours=1), pinned.author, "pin_message", {"message_id": pinned})]
        events = sorted([(m.ts, 1, i, m) for i, m in enumerate(chat)]
                        + [(svc[0], 0, i, svc) for i, svc in enumerate(services)], key=lambda e: e[:3])
        for number, (_, is_message, _, item) in enumerate(events, start=1):
            if is_message:
                item.native_id = str(number)
        records = []
        for number, (_, is_message, index, item) in enumerate(events, start=1):
            if is_message:
                records.append(_tg_message(item, index))
            else:
                ts, actor, action, extra = item
                extra = {k: int(v.native_id) if isinstance(v, Msg) else v for k, v in extra.items()}
                records.append(_tg_service(number, ts, actor, action, **extra))
        group_id = int("17" + _digits(random.Random(comm.key + str(len(chat))), 8))
        export = {"name": f"{comm.name} ☕", "type": "public_supergroup", "id": group_id, "messages": records}
        folder = out / "telegram" / f"ChatExport_{(REFERENCE_DATE - timedelta(days=1)).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "result.json", json.dumps(export, ensure_ascii=False, indent=1) + "\n")
        counts[f"telegram/{folder.name}/result.json"] = len(chat)
    return counts


def _tg_message(m: Msg, index: int) -> dict:
    acc = _account(m.author, "telegram")
    text, entities = _telegram_text(m)
    record: dict = {"id": int(m.native_id), "type": "message", "date": _local(m.ts).isoformat(),
                    "date_unixtime": str(int(m.ts.timestamp())), "from": acc.name, "from_id": acc.native_id}
    if index % 37 == 5:
        edited = m.ts + timedelta(minutes=2)
        record["edited"] = _local(edited).isoformat()
        record["edited_unixtime"] = str(int(edited.timestamp()))
    if m.kind == "reply":
        record["reply_to_message_id"] = int(m.parent.native_id)
    if index % 53 == 7:
        record.update({"photo": "(File not included. Change data exporting settings to download.)",
                       "width": 1280, "height": 960})
    record["text"] = text
    record["text_entities"] = entities
    return record


def _tg_service(mid: int, ts: datetime, actor: Person, action: str, **extra) -> dict:
    acc = _account(actor, "telegram")
    return {"id": mid, "type": "service", "date": _local(ts).isoformat(), "date_unixtime": str(int(ts.timestamp())),
            "actor": acc.name, "actor_id": acc.native_id, "action": action, **extra, "text": "", "text_entities": []}


def _write_generic(world: World, msgs: list[Msg], out: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    live = [m for m in msgs if m.platform == "instagram" and m.kind == "message"]
    groups = [("facebook_comments.jsonl", [m for m in msgs if m.platform == "facebook"]),
              ("instagram_comments.jsonl", [m for m in msgs if m.platform == "instagram" and m.kind != "message"]),
              ("instagram_live_chat.jsonl", live)]
    live_id = "179" + _digits(random.Random("live"), 14)
    for name, rows in groups:
        if not rows:
            continue
        lines = [json.dumps(_generic_row(m, live_id), ensure_ascii=False) for m in rows]
        (out / "generic").mkdir(parents=True, exist_ok=True)
        _write(out / "generic" / name, "\n".join(lines) + "\n")
        counts[f"generic/{name}"] = len(rows)
    return counts


def _generic_row(m: Msg, live_id: str) -> dict:
    """One row of the documented generic columns. Instagram writes ``@username`` in answers to a
    comment; Facebook tags people by name."""
    acc = _account(m.author, m.platform)
    text = m.text
    if m.platform == "instagram" and m.kind == "reply" and m.parent is not None and m.parent.kind == "reply":
        text = f"@{_account(m.parent.author, m.platform).handle} {text}"
    if m.kind != "message":  # live chat messages carry their @mention already
        for person in m.mentions:
            text += f" ({_cite_chat(m, _account(person, m.platform), m.platform)})"
    return {"id": m.native_id, "platform": m.platform, "kind": m.kind, "actor": acc.native_id,
            "actor_handle": acc.handle,
            "target": _account(m.addressee, m.platform).native_id if m.addressee is not None else None,
            "timestamp": _iso_z(m.ts), "text": text,
            "parent_id": m.parent.native_id if m.parent is not None else None,
            "conversation_id": live_id if m.kind == "message" else (m.root or m).native_id,
            "lang": m.lang, "mentions": [_account(p, m.platform).native_id for p in m.mentions]}


def _write_crm(world: World, out: Path) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["customer_id", "platform", "handle", "phone", "email"])
    for person in world.people:
        if len(person.accounts) < 2:
            continue
        for platform in sorted(person.accounts):
            acc = person.accounts[platform]
            # The handle as the channel's export shows it: Twitter/Instagram usernames, the WhatsApp
            # contact name, the Telegram and Facebook display names (exports carry no usernames).
            handle = acc.handle if platform in ("twitter", "instagram", "whatsapp") else acc.name
            writer.writerow([f"C{10000 + person.pid}", platform, handle, person.phone or "", person.email or ""])
    path = out / "crm.csv"
    _write(path, buf.getvalue())
    return path


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


# -- the entry point ----------------------------------------------------------------------------------


def generate_sample(out_dir: Path, *, seed: int = 7, people: int = 240, scale: float = 1.0) -> SampleManifest:
    """Write the sample community under ``out_dir`` and describe it.

    Layout: ``out_dir/exports/`` holds the export files to import (the
    manifest's ``directory``), ``out_dir/crm.csv`` the CRM rows for identity
    resolution and ``out_dir/manifest.json`` this manifest. ``people``
    customers (at least 2) are spread over up to six communities; ``scale``
    multiplies how much each person talks (1.0 gives about 2,800 interactions
    in 1.3 MB for 240 people; conversations grow with ``people``). The same
    arguments write byte-identical files. ``out_dir`` must be absent, empty,
    or a folder this function wrote before, whose files are then replaced;
    anything else raises :class:`FileExistsError`.

    >>> m = generate_sample(Path(tempfile.mkdtemp()) / "s", people=60)  # doctest: +SKIP
    >>> m.people, sorted(m.per_kind)                                     # doctest: +SKIP
    (60, ['facebook', 'instagram', 'telegram', 'twitter', 'whatsapp'])
    """
    if people < 2:
        raise ValueError(f"people must be at least 2, got {people}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out = Path(out_dir)
    _prepare(out)
    exports = out / EXPORTS
    world = _build_world(random.Random(seed), people)
    msgs = _traffic(world, scale)
    _assign_ids(world, msgs)
    per_file: dict[str, int] = {}
    for writer in (_write_twitter, _write_whatsapp, _write_telegram, _write_generic):
        per_file |= writer(world, msgs, exports)
    crm = _write_crm(world, out)
    manifest = _manifest(world, msgs, exports, per_file, crm, seed)
    _write(out / MANIFEST, _manifest_json(manifest, out, people, scale))
    return manifest


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not _ours(out / MANIFEST):
            raise FileExistsError(f"{out} is not empty and was not written by generate_sample; choose another folder")
        shutil.rmtree(out / EXPORTS, ignore_errors=True)
        for name in ("crm.csv", MANIFEST):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _ours(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _manifest_json(manifest: SampleManifest, out: Path, people: int, scale: float) -> str:
    data = {"generator": GENERATOR, "seed": manifest.seed, "people_requested": people, "scale": scale,
            "reference_date": _iso_z(manifest.reference_date), "timezone": manifest.timezone,
            "directory": manifest.directory.relative_to(out).as_posix(),
            "crm": manifest.crm.relative_to(out).as_posix() if manifest.crm else None,
            "people": manifest.people, "accounts": manifest.accounts, "interactions": manifest.interactions,
            "per_file": manifest.per_file, "per_kind": manifest.per_kind, "languages": manifest.languages,
            "sentiment": manifest.sentiment, "brand_accounts": manifest.brand_accounts, "leaders": manifest.leaders,
            "leader_accounts": manifest.leader_accounts, "communities": manifest.communities}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def _manifest(world: World, msgs: list[Msg], out: Path, per_file: dict[str, int], crm: Path,
              seed: int) -> SampleManifest:
    leaders: dict[str, list[str]] = {}
    leader_accounts: dict[str, list[str]] = {}
    communities: dict[str, list[str]] = {}
    for comm in world.communities:
        home = world.members[comm.key]
        chiefs = [p for p in home if p.leader]
        leaders[comm.name] = [("@" + p.accounts[comm.platform].handle) if comm.platform in ("twitter", "instagram")
                              else p.accounts[comm.platform].name for p in chiefs]
        leader_accounts[comm.name] = [_key(p.accounts[comm.platform]) for p in chiefs]
        communities[comm.name] = [_key(a) for p in home for a in p.accounts.values()]
    per_kind: dict[str, dict[str, int]] = {}
    languages: dict[str, int] = {}
    sentiment: dict[str, int] = {}
    for m in msgs:
        kind = m.kind
        if m.platform == "twitter" and kind == "post" and m.mentions:
            kind = "mention"
        per_kind.setdefault(m.platform, {}).setdefault(kind, 0)
        per_kind[m.platform][kind] += 1
        if m.text is not None and m.kind != "share":
            languages[m.lang] = languages.get(m.lang, 0) + 1
            label = {-1: "negative", 0: "neutral", 1: "positive"}[m.polarity]
            sentiment[label] = sentiment.get(label, 0) + 1
    speakers = {m.author.pid for m in msgs if not m.author.brand}
    accounts = {(m.platform, m.author.pid) for m in msgs}
    return SampleManifest(
        directory=out, files=[out / name for name in sorted(per_file)], people=len(speakers),
        interactions=sum(per_file.values()), leaders=leaders,
        brand_accounts=sorted(_key(a) for a in world.brand.accounts.values()),
        leader_accounts=leader_accounts, communities=communities, accounts=len(accounts), crm=crm,
        per_file=dict(sorted(per_file.items())),
        per_kind={k: dict(sorted(v.items())) for k, v in sorted(per_kind.items())},
        languages=dict(sorted(languages.items())), sentiment=dict(sorted(sentiment.items())), seed=seed)


def _key(acc: Account) -> str:
    return f"{acc.platform}:{acc.native_id}"
