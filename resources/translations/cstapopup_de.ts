<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de" sourcelanguage="en">
<context>
    <name>Acse</name>
    <message>
        <source>no reason given</source>
        <translation>kein Grund angegeben</translation>
    </message>
    <message>
        <source>the PBX does not speak CSTA Phase III on this port</source>
        <translation>die Telefonanlage spricht auf diesem Port kein CSTA Phase III</translation>
    </message>
    <message>
        <source>the PBX does not know the login method</source>
        <translation>die Telefonanlage kennt das Anmeldeverfahren nicht</translation>
    </message>
    <message>
        <source>the PBX wants a login method</source>
        <translation>die Telefonanlage verlangt ein Anmeldeverfahren</translation>
    </message>
    <message>
        <source>wrong user name or password</source>
        <translation>falscher Benutzername oder falsches Passwort</translation>
    </message>
    <message>
        <source>the PBX requires a user name and password</source>
        <translation>die Telefonanlage verlangt Benutzername und Passwort</translation>
    </message>
    <message>
        <source>no common ACSE version</source>
        <translation>keine gemeinsame ACSE-Version</translation>
    </message>
</context>
<context>
    <name>App</name>
    <message>
        <source>Call history (demo)</source>
        <translation>Anrufliste (Demo)</translation>
    </message>
    <message>
        <source>Console (demo)</source>
        <translation>Vermittlungsplatz (Demo)</translation>
    </message>
    <message>
        <source>Settings (for your PBX; the demo keeps its own)</source>
        <translation>Einstellungen (für Ihre Telefonanlage; die Demo hat eigene)</translation>
    </message>
    <message>
        <source>Settings</source>
        <extracomment>Asks the user what to do on a first start without a configured PBX; the default shows a non-blocking message box. Gets the controller (call `start_demo()` / `open_settings()`). Asks for the PBX password (storage &quot;nowhere&quot;); calls back with it, or None when cancelled. The open phone note dialogs, by call key (one per call). The language the windows speak (chosen at `start()`). Notices that came before the UI was built (shown once it is); None afterwards. Called as hook(view, popup) right after a new popup was shown (popup: its widget, None when it is not on screen) (benchmarks, tests). Called once the tray icon (or, without a tray, the main window) is shown.</extracomment>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>answering</source>
        <translation>beim Annehmen</translation>
    </message>
    <message>
        <source>calling back</source>
        <translation>beim Rückruf</translation>
    </message>
    <message>
        <source>starting the demo</source>
        <translation>beim Starten der Demo</translation>
    </message>
    <message>
        <source>the call</source>
        <translation>Anruf</translation>
    </message>
    <message>
        <source>carrying out “{action}”</source>
        <translation>beim Ausführen von „{action}“</translation>
    </message>
    <message>
        <source>Phone note</source>
        <translation>Telefonnotiz</translation>
    </message>
    <message>
        <source>This call is not in the call history.</source>
        <translation>Dieser Anruf ist nicht in der Anrufliste.</translation>
    </message>
    <message>
        <source>Your phone has had no call yet to write a note about.</source>
        <translation>Ihr Telefon hatte noch keinen Anruf, zu dem Sie eine Notiz schreiben könnten.</translation>
    </message>
    <message>
        <source>Phone note saved.</source>
        <translation>Telefonnotiz gespeichert.</translation>
    </message>
    <message>
        <source>The note is saved, but no e-mail program opened it. Set one as the system&apos;s program for e-mail.</source>
        <translation>Die Notiz ist gespeichert, aber kein E-Mail-Programm hat sie geöffnet. Legen Sie eines als Standardprogramm für E-Mail fest.</translation>
    </message>
    <message>
        <source>Error while {what}: {problem}</source>
        <translation>Fehler {what}: {problem}</translation>
    </message>
</context>
<context>
    <name>Colleagues</name>
    <message>
        <source>another number</source>
        <extracomment>Calls kept per device at most: a phone has a few at a time; a PBX that never tells their ends cannot make this grow (the oldest goes, counted and logged). Local connection states of a device&apos;s own connection that mean it has left the call. Without a local connection state: what an event about the device&apos;s own connection means. How a device&apos;s forwarding is shown: only &quot;at once&quot; forwarding makes it unreachable. None: monitored (as far as known); else why not. The status last reported per device (what changed is told once). Lines dropped because a device had more than MAX_LINES (calls whose end was lost).</extracomment>
        <translation>eine andere Nummer</translation>
    </message>
    <message>
        <source>no link to the PBX</source>
        <translation>keine Verbindung zur Telefonanlage</translation>
    </message>
    <message>
        <source>not known yet</source>
        <translation>noch unbekannt</translation>
    </message>
</context>
<context>
    <name>Console</name>
    <message>
        <source>{name} (you)</source>
        <extracomment>The lamps&apos; colours (ColleagueView.lamp). Pixel ratios the lamp icons are drawn for: sharp at 100 %, 150 %, 200 % and 300 %. A lamp&apos;s outline stands out from the background at least this much (WCAG 2, non-text). The lamps of ringing phones blink with the console&apos;s clock.</extracomment>
        <translation>{name} (Sie)</translation>
    </message>
    <message>
        <source>with {party}</source>
        <translation>mit {party}</translation>
    </message>
    <message>
        <source>from {party}</source>
        <translation>von {party}</translation>
    </message>
    <message>
        <source>Answer</source>
        <extracomment>The own phone&apos;s buttons, in order, with their labels (marked for translation).</extracomment>
        <translation>Annehmen</translation>
    </message>
    <message>
        <source>Hang up</source>
        <translation>Auflegen</translation>
    </message>
    <message>
        <source>Hold</source>
        <translation>Halten</translation>
    </message>
    <message>
        <source>Complete</source>
        <translation>Übergeben</translation>
    </message>
    <message>
        <source>Back to caller</source>
        <translation>Zurück zum Anrufer</translation>
    </message>
    <message>
        <source>Switch</source>
        <translation>Makeln</translation>
    </message>
    <message>
        <source>State of your phone</source>
        <translation>Zustand Ihres Telefons</translation>
    </message>
    <message>
        <source>Time on this call</source>
        <translation>Dauer dieses Gesprächs</translation>
    </message>
    <message>
        <source>Your phone</source>
        <translation>Ihr Telefon</translation>
    </message>
    <message>
        <source>Take back</source>
        <translation>Zurückholen</translation>
    </message>
    <message>
        <source>Drag onto a colleague to put the call through</source>
        <translation>Auf einen Kollegen ziehen, um den Anruf zu vermitteln</translation>
    </message>
    <message>
        <source>Keyboard</source>
        <translation>Tastatur</translation>
    </message>
    <message>
        <source>F1, ? or Esc closes this help.</source>
        <translation>F1, ? oder Esc schließt diese Hilfe.</translation>
    </message>
    <message>
        <source>Console</source>
        <extracomment>How often the times shown move on (ms).</extracomment>
        <translation>Vermittlungsplatz</translation>
    </message>
    <message>
        <source>Type a name or number to find a colleague (F1: all keys)</source>
        <extracomment>The call of a popup being put through (its &quot;Put through&quot; or a drag), &quot;&quot; if none.</extracomment>
        <translation>Namen oder Nummer eintippen, um einen Kollegen zu finden (F1: alle Tasten)</translation>
    </message>
    <message>
        <source>Find a colleague</source>
        <translation>Kollegen suchen</translation>
    </message>
    <message>
        <source>Colleagues</source>
        <translation>Kollegen</translation>
    </message>
    <message>
        <source>Up and Down choose a colleague; Enter puts the call through, Ctrl+Enter consults first</source>
        <translation>Pfeil hoch und runter wählen einen Kollegen; Enter vermittelt den Anruf, Strg+Enter mit Rückfrage</translation>
    </message>
    <message>
        <source>Put through</source>
        <translation>Vermitteln</translation>
    </message>
    <message>
        <source>Consult first</source>
        <translation>Mit Rückfrage</translation>
    </message>
    <message>
        <source>Pick up</source>
        <translation>Heranholen</translation>
    </message>
    <message>
        <source>Note…</source>
        <translation>Notiz…</translation>
    </message>
    <message>
        <source>Phone note</source>
        <translation>Telefonnotiz</translation>
    </message>
    <message>
        <source>F1: keys</source>
        <translation>F1: Tasten</translation>
    </message>
    <message>
        <source>Connection to the PBX</source>
        <translation>Verbindung zur Telefonanlage</translation>
    </message>
    <message>
        <source>Put through: {caller}. Choose a colleague and press Enter (Esc cancels).</source>
        <translation>Vermitteln: {caller}. Wählen Sie einen Kollegen und drücken Sie Enter (Esc bricht ab).</translation>
    </message>
</context>
<context>
    <name>Counted</name>
    <message numerus="yes">
        <source>%Ln calls</source>
        <extracomment>Between a number and its unit, so that a line never breaks between them. Every counted phrase the windows, popups and notices show: key -&gt; (English singular, the source text, which is the English plural). ``%Ln`` is the count; other fields are named by the caller. (The literal 2 makes lupdate mark the text as a plural; the &quot;minutes&quot; entry holds a literal no-break space: lupdate reads no <byte value="x0"/> escapes.)</extracomment>
        <translation>
            <numerusform>%Ln Anruf</numerusform>
            <numerusform>%Ln Anrufe</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln missed calls</source>
        <translation>
            <numerusform>%Ln verpasster Anruf</numerusform>
            <numerusform>%Ln verpasste Anrufe</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln missed, not done</source>
        <translation>
            <numerusform>%Ln verpasst, nicht erledigt</numerusform>
            <numerusform>%Ln verpasst, nicht erledigt</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>&amp;History (%Ln missed)</source>
        <translation>
            <numerusform>&amp;Anrufliste (%Ln verpasst)</numerusform>
            <numerusform>&amp;Anrufliste (%Ln verpasst)</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>+%Ln more ringing</source>
        <translation>
            <numerusform>+%Ln weiterer klingelt</numerusform>
            <numerusform>+%Ln weitere klingeln</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>+%Ln more calls</source>
        <translation>
            <numerusform>+%Ln weiterer Anruf</numerusform>
            <numerusform>+%Ln weitere Anrufe</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>+%Ln more calls ({ringing} ringing)</source>
        <translation>
            <numerusform>+%Ln weiterer Anruf (davon {ringing} klingelnd)</numerusform>
            <numerusform>+%Ln weitere Anrufe (davon {ringing} klingelnd)</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Delete these %Ln calls from the history?</source>
        <translation>
            <numerusform>Diesen Anruf aus der Anrufliste löschen?</numerusform>
            <numerusform>Diese %Ln Anrufe aus der Anrufliste löschen?</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Copied {first} and {others} more</source>
        <translation>
            <numerusform>{first} kopiert</numerusform>
            <numerusform>{first} und {others} weitere kopiert</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln values need attention</source>
        <translation>
            <numerusform>Ein Wert muss korrigiert werden</numerusform>
            <numerusform>%Ln Werte müssen korrigiert werden</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>More than %Ln calls had a popup at once</source>
        <translation>
            <numerusform>Mehr als %Ln Anruf hatte gleichzeitig ein Anruffenster</numerusform>
            <numerusform>Mehr als %Ln Anrufe hatten gleichzeitig ein Anruffenster</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln&#xa0;minutes</source>
        <translation>
            <numerusform>%Ln&#xa0;Minute</numerusform>
            <numerusform>%Ln&#xa0;Minuten</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln calls there.</source>
        <translation>
            <numerusform>Dort ist %Ln Anruf.</numerusform>
            <numerusform>Dort sind %Ln Anrufe.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Co&amp;lleagues (the first {shown} of %Ln)</source>
        <translation>
            <numerusform>&amp;Kollegen (die ersten {shown} von %Ln)</numerusform>
            <numerusform>&amp;Kollegen (die ersten {shown} von %Ln)</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln waiting to be written</source>
        <translation>
            <numerusform>%Ln wartet auf das Speichern</numerusform>
            <numerusform>%Ln warten auf das Speichern</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln lost</source>
        <translation>
            <numerusform>%Ln verloren</numerusform>
            <numerusform>%Ln verloren</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln calls that the last recording left in progress (it stopped without closing them) were closed as &apos;end unknown&apos;.</source>
        <translation>
            <numerusform>%Ln Anruf, den die letzte Aufzeichnung offen gelassen hat (sie endete, ohne ihn abzuschließen), wurde als „Ende unbekannt“ abgeschlossen.</numerusform>
            <numerusform>%Ln Anrufe, die die letzte Aufzeichnung offen gelassen hat (sie endete, ohne sie abzuschließen), wurden als „Ende unbekannt“ abgeschlossen.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln calls could not be kept</source>
        <translation>
            <numerusform>%Ln Anruf konnte nicht gespeichert werden</numerusform>
            <numerusform>%Ln Anrufe konnten nicht gespeichert werden</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%Ln events of the office gateway never arrived here</source>
        <translation>
            <numerusform>%Ln Ereignis des Büro-Gateways ist hier nie angekommen</numerusform>
            <numerusform>%Ln Ereignisse des Büro-Gateways sind hier nie angekommen</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>Desk</name>
    <message>
        <source>Numbers</source>
        <extracomment>Popups the desk follows at a time; one more closes the oldest (a flood of calls, or a PBX that never tells their ends, cannot fill the memory with them). A popup that rings this long without any event of its call is given up and closes: no phone rings for five minutes, so the PBX&apos;s word of the call&apos;s end was lost. How often the desk looks for given-up popups (only while it has popups). A popup whose call is over is forgotten this long after it should have closed, should the UI not say it closed it. The options of the PBX link (the client&apos;s); re-exported so that the UI need not import the protocol package to pass them through. Call ids remembered with the history key of their call (for the own phone&apos;s line). Who the call is with, as the words of the result name them. Seconds a popup stays after its call is over or taken elsewhere (0: until dismissed). The colleagues panel: (device, name given in the settings or None); empty: the monitored devices.</extracomment>
        <translation>Rufnummern</translation>
    </message>
    <message>
        <source>The numbering settings cannot be used ({problem}); using the defaults.</source>
        <translation>Die Rufnummern-Einstellungen können nicht verwendet werden ({problem}); es gelten die Standardwerte.</translation>
    </message>
    <message>
        <source>starting</source>
        <extracomment>The connection of the call at each monitored device it rang at (for AnswerCall). When its view first said it closes (monotonic), None while it stays.</extracomment>
        <translation>wird gestartet</translation>
    </message>
    <message>
        <source>Call history</source>
        <extracomment>The own phone&apos;s latest call (its history key), for a phone note after it ended. call id -&gt; the history key of its call (the own phone&apos;s line names its call). Colleagues the PBX would not monitor, not told yet (one notice for all of them). Popups closed because more than `max_popups` were open (their calls are recorded). Said with every link state until the next connect() (&quot;using the factory password&quot;). The recorder&apos;s timer: grouped commits, retries, file checks (every FLUSH_INTERVAL). Why the history file could not be used (a throw-away one stands in), else None.</extracomment>
        <translation>Anrufliste</translation>
    </message>
    <message>
        <source>Phone book</source>
        <translation>Telefonbuch</translation>
    </message>
    <message>
        <source>cannot set up the link: {problem}</source>
        <translation>die Verbindung kann nicht eingerichtet werden: {problem}</translation>
    </message>
    <message>
        <source>PBX link</source>
        <translation>Verbindung zur Telefonanlage</translation>
    </message>
    <message>
        <source>Cannot set up the link to the PBX: {problem}</source>
        <translation>Die Verbindung zur Telefonanlage kann nicht eingerichtet werden: {problem}</translation>
    </message>
    <message>
        <source>demo mode: {state}</source>
        <translation>Demo-Modus: {state}</translation>
    </message>
    <message>
        <source>Login refused</source>
        <translation>Anmeldung abgelehnt</translation>
    </message>
    <message>
        <source>Connection to the broker lost</source>
        <extracomment>Titles of the notices about a link that went down or could not be made, by its fault (calls.link.LinkFault values); the link of our own&apos;s are the defaults.</extracomment>
        <translation>Verbindung zum Broker unterbrochen</translation>
    </message>
    <message>
        <source>Office gateway gone</source>
        <translation>Büro-Gateway nicht mehr erreichbar</translation>
    </message>
    <message>
        <source>PBX down behind the office gateway</source>
        <translation>Telefonanlage hinter dem Büro-Gateway nicht erreichbar</translation>
    </message>
    <message>
        <source>Cannot reach the broker</source>
        <translation>Broker nicht erreichbar</translation>
    </message>
    <message>
        <source>No office gateway</source>
        <translation>Kein Büro-Gateway</translation>
    </message>
    <message>
        <source>PBX link lost</source>
        <translation>Verbindung zur Telefonanlage unterbrochen</translation>
    </message>
    <message>
        <source>Cannot connect to the PBX</source>
        <translation>Keine Verbindung zur Telefonanlage möglich</translation>
    </message>
    <message>
        <source>Device not monitored</source>
        <translation>Nebenstelle nicht überwacht</translation>
    </message>
    <message>
        <source>{problem}. Check the monitored devices in the settings.</source>
        <translation>{problem}. Prüfen Sie die überwachten Nebenstellen in den Einstellungen.</translation>
    </message>
    <message>
        <source>Colleagues not monitored</source>
        <translation>Kollegen nicht überwacht</translation>
    </message>
    <message>
        <source>Their lamps stay dark. {reasons}.</source>
        <translation>Ihre Lampen bleiben dunkel. {reasons}.</translation>
    </message>
    <message>
        <source>you ({device})</source>
        <translation>Ihnen ({device})</translation>
    </message>
    <message>
        <source>Set your own phone in the settings to take and put through calls.</source>
        <translation>Legen Sie in den Einstellungen Ihr eigenes Telefon fest, um Anrufe anzunehmen und zu vermitteln.</translation>
    </message>
    <message>
        <source>not known</source>
        <translation>unbekannt</translation>
    </message>
    <message>
        <source>Your phone ({device}): {why}.</source>
        <translation>Ihr Telefon ({device}): {why}.</translation>
    </message>
    <message>
        <source>Consulting {party}</source>
        <translation>Rückfrage bei {party}</translation>
    </message>
    <message>
        <source>{party} waits on hold</source>
        <translation>{party} wird gehalten</translation>
    </message>
    <message>
        <source>On a call with {party}</source>
        <translation>Im Gespräch mit {party}</translation>
    </message>
    <message>
        <source>{party} is calling</source>
        <translation>{party} ruft an</translation>
    </message>
    <message>
        <source>No call at your phone ({device})</source>
        <translation>Kein Anruf an Ihrem Telefon ({device})</translation>
    </message>
    <message>
        <source>the caller</source>
        <translation>Anrufer</translation>
    </message>
    <message>
        <source>Too many calls at once</source>
        <translation>Zu viele Anrufe gleichzeitig</translation>
    </message>
    <message>
        <source>{count}: the oldest popups were closed. Every call is in the history.</source>
        <translation>{count}: Die ältesten Anruffenster wurden geschlossen. Jeder Anruf steht in der Anrufliste.</translation>
    </message>
    <message>
        <source>This call no longer rings at {device}.</source>
        <translation>Dieser Anruf klingelt nicht mehr bei {device}.</translation>
    </message>
    <message>
        <source>Not connected to the PBX.</source>
        <translation>Keine Verbindung zur Telefonanlage.</translation>
    </message>
    <message>
        <source>Not connected to the PBX: the call was not answered.</source>
        <translation>Keine Verbindung zur Telefonanlage: Der Anruf wurde nicht angenommen.</translation>
    </message>
    <message>
        <source>The call at {device} was not answered: {why}.</source>
        <translation>Der Anruf an {device} wurde nicht angenommen: {why}.</translation>
    </message>
    <message>
        <source>The PBX did not answer the call at {device}: {problem}</source>
        <translation>Die Telefonanlage hat den Anruf an {device} nicht angenommen: {problem}</translation>
    </message>
    <message>
        <source>Call back</source>
        <translation>Rückruf</translation>
    </message>
    <message>
        <source>Set your own phone in the settings to call back.</source>
        <translation>Legen Sie in den Einstellungen Ihr eigenes Telefon fest, um zurückzurufen.</translation>
    </message>
    <message>
        <source>Not connected to the PBX: cannot call {number}.</source>
        <translation>Keine Verbindung zur Telefonanlage: {number} kann nicht angerufen werden.</translation>
    </message>
    <message>
        <source>{number} was not called: {why}.</source>
        <translation>{number} wurde nicht angerufen: {why}.</translation>
    </message>
    <message>
        <source>The PBX did not call {number} from {device}: {problem}</source>
        <translation>Die Telefonanlage hat {number} nicht von {device} aus angerufen: {problem}</translation>
    </message>
    <message>
        <source>Calling {number} from {device}…</source>
        <translation>{number} wird von {device} aus angerufen…</translation>
    </message>
    <message>
        <source>The call history is not open.</source>
        <translation>Die Anrufliste ist nicht geöffnet.</translation>
    </message>
    <message>
        <source>The note was not saved: {problem}.</source>
        <translation>Die Notiz wurde nicht gespeichert: {problem}.</translation>
    </message>
    <message>
        <source>The note was not saved: the call is no longer in the history.</source>
        <translation>Die Notiz wurde nicht gespeichert: Der Anruf ist nicht mehr in der Anrufliste.</translation>
    </message>
    <message>
        <source>Set your own phone in the settings first</source>
        <translation>Legen Sie zuerst in den Einstellungen Ihr eigenes Telefon fest</translation>
    </message>
    <message>
        <source>Choose a colleague first</source>
        <translation>Wählen Sie zuerst einen Kollegen</translation>
    </message>
    <message>
        <source>{device} is your own phone</source>
        <translation>{device} ist Ihr eigenes Telefon</translation>
    </message>
    <message>
        <source>No call rings at {device}</source>
        <translation>Bei {device} klingelt kein Anruf</translation>
    </message>
    <message>
        <source>Your phone ({device}) has a call: finish it first</source>
        <translation>Ihr Telefon ({device}) hat einen Anruf: Beenden Sie ihn zuerst</translation>
    </message>
    <message>
        <source>No call at your phone ({device}) to put through</source>
        <translation>Kein Anruf an Ihrem Telefon ({device}) zum Vermitteln</translation>
    </message>
    <message>
        <source>No call rings at your phone ({device})</source>
        <translation>An Ihrem Telefon ({device}) klingelt kein Anruf</translation>
    </message>
    <message>
        <source>You are on a call: hold it or hang up first</source>
        <translation>Sie telefonieren: Halten Sie das Gespräch, oder legen Sie zuerst auf</translation>
    </message>
    <message>
        <source>Answer the call first</source>
        <translation>Nehmen Sie den Anruf zuerst an</translation>
    </message>
    <message>
        <source>No call at your phone ({device}) to consult about</source>
        <translation>Kein Gespräch an Ihrem Telefon ({device}) für eine Rückfrage</translation>
    </message>
    <message>
        <source>You are not consulting anyone</source>
        <translation>Sie führen keine Rückfrage</translation>
    </message>
    <message>
        <source>One call is on hold already: switch between them instead</source>
        <translation>Ein Gespräch wird bereits gehalten: Makeln Sie stattdessen</translation>
    </message>
    <message>
        <source>No call at your phone ({device}) to hold</source>
        <translation>Kein Gespräch an Ihrem Telefon ({device}) zum Halten</translation>
    </message>
    <message>
        <source>No call at your phone ({device}) to end</source>
        <translation>Kein Gespräch an Ihrem Telefon ({device}) zum Beenden</translation>
    </message>
    <message>
        <source>Not possible</source>
        <translation>Nicht möglich</translation>
    </message>
    <message>
        <source>You are consulting {party}: complete the transfer or go back to the caller first</source>
        <translation>Sie sind in Rückfrage mit {party}: Übergeben Sie zuerst, oder kehren Sie zum Anrufer zurück</translation>
    </message>
    <message>
        <source>This call is neither ringing nor at your phone any more</source>
        <translation>Dieser Anruf klingelt nicht mehr und ist auch nicht an Ihrem Telefon</translation>
    </message>
    <message>
        <source>The PBX did not say which connection rings</source>
        <translation>Die Telefonanlage hat nicht mitgeteilt, welche Verbindung klingelt</translation>
    </message>
    <message>
        <source>{failed}: {why}.</source>
        <translation>{failed}: {why}.</translation>
    </message>
    <message>
        <source>Answer</source>
        <extracomment>The notices&apos; titles, by the console action they are about.</extracomment>
        <translation>Annehmen</translation>
    </message>
    <message>
        <source>Put through</source>
        <translation>Vermitteln</translation>
    </message>
    <message>
        <source>Consult</source>
        <translation>Rückfrage</translation>
    </message>
    <message>
        <source>Transfer</source>
        <translation>Übergeben</translation>
    </message>
    <message>
        <source>Back to the caller</source>
        <translation>Zurück zum Anrufer</translation>
    </message>
    <message>
        <source>Switch calls</source>
        <translation>Makeln</translation>
    </message>
    <message>
        <source>Hold</source>
        <translation>Halten</translation>
    </message>
    <message>
        <source>Hang up</source>
        <translation>Auflegen</translation>
    </message>
    <message>
        <source>Pick up</source>
        <translation>Heranholen</translation>
    </message>
    <message>
        <source>the call</source>
        <translation>der Anruf</translation>
    </message>
    <message>
        <source>{party} was not put through to {target}</source>
        <translation>{party} wurde nicht an {target} vermittelt</translation>
    </message>
    <message>
        <source>{party} was not put through</source>
        <translation>{party} wurde nicht vermittelt</translation>
    </message>
    <message>
        <source>{target} was not called</source>
        <translation>{target} wurde nicht angerufen</translation>
    </message>
    <message>
        <source>The call ringing at {target} was not picked up</source>
        <translation>Der Anruf bei {target} wurde nicht herangeholt</translation>
    </message>
    <message>
        <source>{party} was not answered</source>
        <translation>{party} wurde nicht angenommen</translation>
    </message>
    <message>
        <source>Not back to {party}</source>
        <translation>Nicht zurück zu {party}</translation>
    </message>
    <message>
        <source>The calls were not switched</source>
        <translation>Es wurde nicht gemakelt</translation>
    </message>
    <message>
        <source>{party} was not put on hold</source>
        <translation>{party} wurde nicht gehalten</translation>
    </message>
    <message>
        <source>{party} was not taken back from hold</source>
        <translation>{party} wurde nicht zurückgeholt</translation>
    </message>
    <message>
        <source>The call with {party} was not ended</source>
        <translation>Das Gespräch mit {party} wurde nicht beendet</translation>
    </message>
    <message>
        <source>Putting {party} through to {target}…</source>
        <translation>{party} wird an {target} vermittelt…</translation>
    </message>
    <message>
        <source>Sending {party} on to {target}…</source>
        <translation>{party} wird an {target} weitergeleitet…</translation>
    </message>
    <message>
        <source>{party} is put through to {target}.</source>
        <translation>{party} ist an {target} übergeben.</translation>
    </message>
    <message>
        <source>Calling {target}; {party} waits on hold…</source>
        <translation>{target} wird angerufen; {party} wird gehalten…</translation>
    </message>
    <message>
        <source>Picking up the call ringing at {target}…</source>
        <translation>Der Anruf bei {target} wird herangeholt…</translation>
    </message>
    <message>
        <source>Answering {party}…</source>
        <translation>{party} wird angenommen…</translation>
    </message>
    <message>
        <source>Back to {party}.</source>
        <translation>Zurück zu {party}.</translation>
    </message>
    <message>
        <source>Switched calls.</source>
        <translation>Gemakelt.</translation>
    </message>
    <message>
        <source>{party} is on hold.</source>
        <translation>{party} wird gehalten.</translation>
    </message>
    <message>
        <source>The call with {party} is ended.</source>
        <translation>Das Gespräch mit {party} ist beendet.</translation>
    </message>
</context>
<context>
    <name>History</name>
    <message>
        <source>Time</source>
        <extracomment>Rows the table keeps loaded as new calls come in on top; the oldest loaded ones beyond go (scrolling fetches them again), so a flood of calls cannot fill the memory with rows.</extracomment>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Direction</source>
        <translation>Richtung</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Number</source>
        <translation>Nummer</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>Nebenstelle</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>Outcome</source>
        <translation>Ergebnis</translation>
    </message>
    <message>
        <source>Note</source>
        <translation>Notiz</translation>
    </message>
    <message>
        <source>Call history</source>
        <extracomment>Columns whose text may be longer than the column: their tooltip starts with all of it. The column that marks calls with a phone note. The window&apos;s title; Qt adds the application&apos;s name (&quot;Call history — cstapopup&quot;).</extracomment>
        <translation>Anrufliste</translation>
    </message>
    <message>
        <source>{date}, {time}</source>
        <extracomment>The missed calls not dealt with: this red (made readable on the table&apos;s background), in bold, with the missed-call icon and &quot;missed&quot; in the outcome column.</extracomment>
        <translation>{date}, {time}</translation>
    </message>
    <message>
        <source>rang {ring}, talked {talk}</source>
        <extracomment>How numbers are shown (&quot;089 1234567&quot; for &quot;00891234567&quot;); None: as the PBX gave them. The missed calls&apos; colour, readable on the table&apos;s background (see set_background).</extracomment>
        <translation>klingelte {ring}, Gespräch {talk}</translation>
    </message>
    <message>
        <source>{direction} call, {time}, {caller}: {outcome}</source>
        <translation>Anruf {direction}, {time}, {caller}: {outcome}</translation>
    </message>
    <message>
        <source>{call}. {note}</source>
        <translation>{call}. {note}</translation>
    </message>
    <message>
        <source>All</source>
        <extracomment>Where there is no tray this window is the app: closing it minimises it instead of leaving an invisible app behind (the menu&apos;s Quit ends the app).</extracomment>
        <translation>Alle</translation>
    </message>
    <message>
        <source>Missed</source>
        <translation>Verpasst</translation>
    </message>
    <message>
        <source>Incoming</source>
        <translation>Eingehend</translation>
    </message>
    <message>
        <source>Outgoing</source>
        <translation>Ausgehend</translation>
    </message>
    <message>
        <source>Internal</source>
        <translation>Intern</translation>
    </message>
    <message>
        <source>Notes</source>
        <translation>Notizen</translation>
    </message>
    <message>
        <source>Call history problem</source>
        <translation>Problem mit der Anrufliste</translation>
    </message>
    <message>
        <source>Search name, company, number or note  (Ctrl+F)</source>
        <translation>Name, Firma, Nummer oder Notiz suchen  (Strg+F)</translation>
    </message>
    <message>
        <source>Enter calls back, Ctrl+N writes a phone note, Ctrl+C copies the number, Ctrl+D marks done, Delete deletes</source>
        <translation>Eingabe ruft zurück, Strg+N schreibt eine Telefonnotiz, Strg+C kopiert die Nummer, Strg+D markiert als erledigt, Entf löscht</translation>
    </message>
    <message>
        <source>Search calls</source>
        <translation>Anrufe durchsuchen</translation>
    </message>
    <message>
        <source>Show only these calls</source>
        <translation>Nur diese Anrufe zeigen</translation>
    </message>
    <message>
        <source>Export CSV…</source>
        <translation>Als CSV exportieren…</translation>
    </message>
    <message>
        <source>Save the calls shown as a CSV file</source>
        <translation>Die angezeigten Anrufe als CSV-Datei speichern</translation>
    </message>
    <message>
        <source>Calls</source>
        <translation>Anrufe</translation>
    </message>
    <message>
        <source>Columns</source>
        <translation>Spalten</translation>
    </message>
    <message>
        <source>Summary</source>
        <translation>Zusammenfassung</translation>
    </message>
    <message>
        <source>Connection to the PBX</source>
        <translation>Verbindung zur Telefonanlage</translation>
    </message>
    <message>
        <source>Call back</source>
        <extracomment>The columns&apos; widths at the font the app was made for (the name column stretches).</extracomment>
        <translation>Zurückrufen</translation>
    </message>
    <message>
        <source>Copy number</source>
        <translation>Nummer kopieren</translation>
    </message>
    <message>
        <source>Phone note…</source>
        <translation>Telefonnotiz…</translation>
    </message>
    <message>
        <source>Mark done</source>
        <translation>Als erledigt markieren</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>Schließen</translation>
    </message>
    <message>
        <source>cstapopup keeps running; quit from the cstapopup menu.</source>
        <translation>cstapopup läuft weiter; beenden Sie es über das Menü „cstapopup“.</translation>
    </message>
    <message>
        <source>This call has no number to call back.</source>
        <translation>Dieser Anruf hat keine Nummer für einen Rückruf.</translation>
    </message>
    <message>
        <source>Set your own device in the settings to call back.</source>
        <translation>Legen Sie in den Einstellungen Ihr eigenes Telefon fest, um zurückzurufen.</translation>
    </message>
    <message>
        <source>Choose a call to write a note about.</source>
        <translation>Wählen Sie einen Anruf, zu dem Sie eine Notiz schreiben möchten.</translation>
    </message>
    <message>
        <source>Delete from the history</source>
        <translation>Aus der Anrufliste löschen</translation>
    </message>
    <message>
        <source>Export calls</source>
        <translation>Anrufe exportieren</translation>
    </message>
    <message>
        <source>calls.csv</source>
        <translation>anrufe.csv</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV-Dateien (*.csv)</translation>
    </message>
    <message>
        <source>Export failed: {problem}</source>
        <translation>Export fehlgeschlagen: {problem}</translation>
    </message>
    <message>
        <source>Exported to {file}</source>
        <translation>Exportiert nach {file}</translation>
    </message>
</context>
<context>
    <name>HistoryReason</name>
    <message>
        <source>permission denied</source>
        <extracomment>Overrides the directory of the default database (tests and the demo point it at a temp dir). Written into the database header (&quot;CSTA&quot;) so that a foreign SQLite file is never migrated. Search text shorter than this cannot use the trigram index (see `HistoryStore.search`). A function giving the normalised lookup keys of a raw number (e.g. ``[&quot;+49891234567&quot;]``); the app passes one built on `cstapopup.calls.numbers.lookup_keys` with the user&apos;s dial plan. What each condition means for the user, in a few words (`HistoryError.reason`).</extracomment>
        <translation>Zugriff verweigert</translation>
    </message>
    <message>
        <source>it is locked by another program</source>
        <translation>sie ist von einem anderen Programm gesperrt</translation>
    </message>
    <message>
        <source>the file cannot be written (read-only)</source>
        <translation>die Datei kann nicht geschrieben werden (schreibgeschützt)</translation>
    </message>
    <message>
        <source>a disk I/O error</source>
        <translation>ein Lese- oder Schreibfehler des Datenträgers</translation>
    </message>
    <message>
        <source>the file is damaged</source>
        <translation>die Datei ist beschädigt</translation>
    </message>
    <message>
        <source>the disk is full</source>
        <translation>der Datenträger ist voll</translation>
    </message>
    <message>
        <source>the file cannot be opened</source>
        <translation>die Datei kann nicht geöffnet werden</translation>
    </message>
    <message>
        <source>the file is immutable (chattr +i); remove that attribute to let calls be saved</source>
        <extracomment>`HistoryError.reason` when the file (or its -wal / -shm) has the immutable attribute.</extracomment>
        <translation>die Datei ist unveränderlich (chattr +i); entfernen Sie dieses Attribut, damit Anrufe gespeichert werden können</translation>
    </message>
</context>
<context>
    <name>Link</name>
    <message>
        <source>the PBX does not know this device</source>
        <extracomment>The system&apos;s own words behind `text` (&quot;Name or service not known&quot;), &quot;&quot; if none: `text` is in words for the user (calls.texts.link_problem), this is for the details. What the PBX&apos;s universalFailure reasons mean for a monitor, in words.</extracomment>
        <translation>die Telefonanlage kennt diese Nebenstelle nicht</translation>
    </message>
    <message>
        <source>the PBX monitors as many devices as it can</source>
        <translation>die Telefonanlage überwacht bereits so viele Nebenstellen, wie sie kann</translation>
    </message>
    <message>
        <source>the PBX monitors this device too often already</source>
        <translation>die Telefonanlage überwacht diese Nebenstelle bereits zu oft</translation>
    </message>
    <message>
        <source>the PBX refused (is CSTA licensed for it?)</source>
        <translation>die Telefonanlage hat abgelehnt (ist CSTA dafür lizenziert?)</translation>
    </message>
    <message>
        <source>cannot monitor {device}: {why} ({reason})</source>
        <extracomment>Reasons after which asking for more monitors in the same round is pointless.</extracomment>
        <translation>{device} kann nicht überwacht werden: {why} ({reason})</translation>
    </message>
    <message>
        <source>cannot monitor {device}: {why}</source>
        <translation>{device} kann nicht überwacht werden: {why}</translation>
    </message>
    <message>
        <source>not asked: {why}</source>
        <translation>nicht angefragt: {why}</translation>
    </message>
    <message>
        <source>(Details: {detail})</source>
        <translation>(Details: {detail})</translation>
    </message>
    <message>
        <source>no answer from {host}:{port} within {seconds}</source>
        <translation>keine Antwort von {host}:{port} innerhalb von {seconds}</translation>
    </message>
    <message>
        <source>Connected: {host}:{port} accepted the login of {user}.</source>
        <translation>Verbunden: {host}:{port} hat die Anmeldung von {user} angenommen.</translation>
    </message>
    <message>
        <source>wrong user name or password? ({diagnostic})</source>
        <translation>falscher Benutzername oder falsches Passwort? ({diagnostic})</translation>
    </message>
    <message>
        <source>wrong user name or password?</source>
        <translation>falscher Benutzername oder falsches Passwort?</translation>
    </message>
    <message>
        <source>the PBX at {where} refused the login of {user}: {why}</source>
        <translation>die Telefonanlage unter {where} hat die Anmeldung von {user} abgelehnt: {why}</translation>
    </message>
    <message>
        <source>the office gateway does not monitor this device</source>
        <extracomment>The words of a device the gateway does not monitor (not in its --device list); in the user&apos;s language when shown (`translate(&quot;Link&quot;, NOT_AT_GATEWAY)`).</extracomment>
        <translation>das Büro-Gateway überwacht diese Nebenstelle nicht</translation>
    </message>
    <message>
        <source>the office gateway (site {site}) at {broker}</source>
        <translation>das Büro-Gateway (Standort {site}) am Broker {broker}</translation>
    </message>
    <message>
        <source>not started</source>
        <extracomment>Makes a link: (params, devices, on_state=, on_event=, on_monitor_failed=, on_snapshot=, label=) -&gt; link. The app passes PbxLink (params: ConnectionParameters) or GatewayLink (params: GatewayParameters) with their options.</extracomment>
        <translation>nicht gestartet</translation>
    </message>
    <message>
        <source>closed</source>
        <translation>geschlossen</translation>
    </message>
    <message>
        <source>connected to the broker {broker}, waiting for the office gateway (site {site})</source>
        <translation>verbunden mit dem Broker {broker}, warte auf das Büro-Gateway (Standort {site})</translation>
    </message>
    <message>
        <source>connecting to the broker {broker}</source>
        <translation>Verbindung zum Broker {broker} wird aufgebaut</translation>
    </message>
    <message>
        <source>{problem}; the gateway retries in {seconds}</source>
        <translation>{problem}; das Gateway versucht es in {seconds} erneut</translation>
    </message>
    <message>
        <source>connected through {gateway}, monitoring {devices}</source>
        <translation>verbunden über {gateway}, überwacht {devices}</translation>
    </message>
    <message>
        <source>connected through {gateway}</source>
        <translation>verbunden über {gateway}</translation>
    </message>
    <message>
        <source>the broker accepted {user}, but the office gateway did not answer within {seconds}</source>
        <translation>der Broker hat {user} angenommen, aber das Büro-Gateway hat nicht innerhalb von {seconds} geantwortet</translation>
    </message>
    <message>
        <source>the broker accepted the login, but the office gateway did not answer within {seconds}</source>
        <translation>der Broker hat die Anmeldung angenommen, aber das Büro-Gateway hat nicht innerhalb von {seconds} geantwortet</translation>
    </message>
    <message>
        <source>Connected: the broker {broker} accepted {user}, and the office gateway (site {site}) has its PBX link up.</source>
        <translation>Verbunden: Der Broker {broker} hat {user} angenommen, und das Büro-Gateway (Standort {site}) ist mit der Telefonanlage verbunden.</translation>
    </message>
    <message>
        <source>Connected: the broker {broker} accepted the login, and the office gateway (site {site}) has its PBX link up.</source>
        <translation>Verbunden: Der Broker {broker} hat die Anmeldung angenommen, und das Büro-Gateway (Standort {site}) ist mit der Telefonanlage verbunden.</translation>
    </message>
    <message>
        <source>the broker {broker} accepted {user}, but {problem}.</source>
        <translation>der Broker {broker} hat {user} angenommen, aber {problem}.</translation>
    </message>
    <message>
        <source>the broker {broker} accepted the login, but {problem}.</source>
        <translation>der Broker {broker} hat die Anmeldung angenommen, aber {problem}.</translation>
    </message>
    <message>
        <source>connected to {pbx}, monitoring {devices}</source>
        <translation>verbunden mit {pbx}, überwacht {devices}</translation>
    </message>
    <message>
        <source>connected to {pbx}</source>
        <translation>verbunden mit {pbx}</translation>
    </message>
    <message>
        <source>{problem}. Correct it in the settings</source>
        <translation>{problem}. Korrigieren Sie es in den Einstellungen</translation>
    </message>
    <message>
        <source>connecting to {pbx} (attempt {attempt})</source>
        <translation>Verbindung zu {pbx} wird aufgebaut (Versuch {attempt})</translation>
    </message>
    <message>
        <source>connecting to {pbx}</source>
        <translation>Verbindung zu {pbx} wird aufgebaut</translation>
    </message>
    <message>
        <source>{problem}; reconnecting in {seconds}</source>
        <translation>{problem}; neuer Verbindungsversuch in {seconds}</translation>
    </message>
    <message>
        <source>{problem}; retrying in {seconds}</source>
        <translation>{problem}; neuer Versuch in {seconds}</translation>
    </message>
</context>
<context>
    <name>Note</name>
    <message>
        <source>Phone note</source>
        <extracomment>Why a note was not saved, in this red (made readable on the dialog&apos;s background). Keep the note with its call; None when done, else why not (in words). Send the saved note by e-mail to an address (&quot;&quot; : the mail program asks). The address was typed by the user: a choice of whom no longer overwrites it. The note that was saved (None until then).</extracomment>
        <translation>Telefonnotiz</translation>
    </message>
    <message>
        <source>The call</source>
        <translation>Der Anruf</translation>
    </message>
    <message>
        <source>Name or extension of a colleague</source>
        <translation>Name oder Durchwahl eines Kollegen</translation>
    </message>
    <message>
        <source>The phone book&apos;s address, once you chose whom</source>
        <translation>Die Adresse aus dem Telefonbuch, sobald Sie den Empfänger gewählt haben</translation>
    </message>
    <message>
        <source>&amp;Callback wanted</source>
        <translation>&amp;Rückruf erwünscht</translation>
    </message>
    <message>
        <source>What the caller wants</source>
        <translation>Was der Anrufer möchte</translation>
    </message>
    <message>
        <source>&amp;For:</source>
        <translation>&amp;Für:</translation>
    </message>
    <message>
        <source>E-&amp;mail to:</source>
        <translation>E-&amp;Mail an:</translation>
    </message>
    <message>
        <source>&amp;Text:</source>
        <translation>&amp;Text:</translation>
    </message>
    <message>
        <source>Type a name or an extension; Down and Enter choose a suggestion</source>
        <translation>Geben Sie einen Namen oder eine Durchwahl ein; Pfeil nach unten und Eingabe wählen einen Vorschlag</translation>
    </message>
    <message>
        <source>Where “Save and e-mail” sends the note</source>
        <translation>Wohin „Per E-Mail senden“ die Notiz schickt</translation>
    </message>
    <message>
        <source>Problem</source>
        <translation>Problem</translation>
    </message>
    <message>
        <source>&amp;Save note</source>
        <translation>Notiz &amp;speichern</translation>
    </message>
    <message>
        <source>Keep the note with the call in the history</source>
        <translation>Die Notiz mit dem Anruf in der Anrufliste speichern</translation>
    </message>
    <message>
        <source>Save and &amp;e-mail</source>
        <translation>Per &amp;E-Mail senden</translation>
    </message>
    <message>
        <source>Save the note and open your mail program with a ready text (Alt+E)</source>
        <translation>Speichert die Notiz und öffnet Ihr E-Mail-Programm mit einem fertigen Text (Alt+E)</translation>
    </message>
    <message>
        <source>Cance&amp;l</source>
        <translation>Abbre&amp;chen</translation>
    </message>
    <message>
        <source>Close without saving</source>
        <translation>Schließen, ohne zu speichern</translation>
    </message>
</context>
<context>
    <name>Phonebook</name>
    <message>
        <source>{file}, line {line}</source>
        <extracomment>The largest phone-book file read, in bytes (64 MiB). An Outlook-style export with twenty columns takes about 650 bytes a contact (benchmarks/phonebook.py), so this is room for some 100,000 contacts; a bigger file is more likely a wrong path (a disk image, a database, a log), and every entry read costs memory (about 0.5 KB a number). `max_file_bytes` changes it. How often `start_phonebook` has the files&apos; mtime, size and inode looked at, in seconds.</extracomment>
        <translation>{file}, Zeile {line}</translation>
    </message>
    <message>
        <source>{file}: {count} more problems not listed</source>
        <translation>{file}: {count} weitere Probleme nicht aufgeführt</translation>
    </message>
    <message>
        <source>{bytes} bytes</source>
        <translation>{bytes} Bytes</translation>
    </message>
    <message>
        <source>{megabytes} MB ({bytes} bytes)</source>
        <translation>{megabytes} MB ({bytes} Bytes)</translation>
    </message>
    <message>
        <source>file grew past the phone-book limit of {limit}; not read</source>
        <translation>Datei ist über die Telefonbuch-Grenze von {limit} gewachsen; nicht gelesen</translation>
    </message>
    <message>
        <source>file is {size}, more than the phone-book limit of {limit}; not read</source>
        <translation>Datei ist {size} groß, mehr als die Telefonbuch-Grenze von {limit}; nicht gelesen</translation>
    </message>
    <message>
        <source>a directory</source>
        <translation>ein Ordner</translation>
    </message>
    <message>
        <source>a named pipe (FIFO)</source>
        <translation>eine benannte Pipe (FIFO)</translation>
    </message>
    <message>
        <source>a character device</source>
        <translation>ein zeichenorientiertes Gerät</translation>
    </message>
    <message>
        <source>a block device</source>
        <translation>ein blockorientiertes Gerät</translation>
    </message>
    <message>
        <source>a socket</source>
        <translation>ein Socket</translation>
    </message>
    <message>
        <source>a special file</source>
        <translation>eine Sonderdatei</translation>
    </message>
    <message>
        <source>cannot read it: it is {kind}, not a regular file (a phone book must be a CSV or vCard file)</source>
        <translation>kann nicht gelesen werden: es ist {kind}, keine normale Datei (ein Telefonbuch muss eine CSV- oder vCard-Datei sein)</translation>
    </message>
    <message>
        <source>file not found</source>
        <translation>Datei nicht gefunden</translation>
    </message>
    <message>
        <source>cannot read the file ({problem})</source>
        <translation>Datei kann nicht gelesen werden ({problem})</translation>
    </message>
    <message>
        <source>unreadable CSV ({problem}); line skipped</source>
        <translation>unlesbares CSV ({problem}); Zeile übersprungen</translation>
    </message>
    <message>
        <source>a quote opened in this entry is never closed, so lines {first}-{last} were read as one entry</source>
        <translation>ein in diesem Eintrag geöffnetes Anführungszeichen wird nie geschlossen, daher wurden die Zeilen {first}-{last} als ein Eintrag gelesen</translation>
    </message>
    <message>
        <source>no phone column found in the header row (columns: {columns})</source>
        <translation>keine Telefonnummern-Spalte in der Kopfzeile gefunden (Spalten: {columns})</translation>
    </message>
    <message>
        <source>no name or company column found in the header row</source>
        <translation>keine Namens- oder Firmenspalte in der Kopfzeile gefunden</translation>
    </message>
    <message>
        <source>entry has numbers but neither a name nor a company; skipped</source>
        <translation>Eintrag hat Nummern, aber weder Namen noch Firma; übersprungen</translation>
    </message>
    <message>
        <source>the file is empty (no header row)</source>
        <translation>die Datei ist leer (keine Kopfzeile)</translation>
    </message>
    <message>
        <source>card has numbers but neither FN, N nor ORG; skipped</source>
        <extracomment>(preferred, order seen, address): the preferred first, else in the card&apos;s order.</extracomment>
        <translation>Karte hat Nummern, aber weder FN, N noch ORG; übersprungen</translation>
    </message>
    <message>
        <source>not a vCard property line: {line}</source>
        <translation>keine vCard-Eigenschaftszeile: {line}</translation>
    </message>
    <message>
        <source>card has no END:VCARD before the next BEGIN:VCARD; read anyway</source>
        <translation>Karte hat kein END:VCARD vor dem nächsten BEGIN:VCARD; trotzdem gelesen</translation>
    </message>
    <message>
        <source>END:VCARD without BEGIN:VCARD</source>
        <translation>END:VCARD ohne BEGIN:VCARD</translation>
    </message>
    <message>
        <source>card has no END:VCARD at the end of the file; read anyway</source>
        <translation>Karte hat kein END:VCARD am Dateiende; trotzdem gelesen</translation>
    </message>
    <message>
        <source>no vCard found (no BEGIN:VCARD line)</source>
        <translation>keine vCard gefunden (keine BEGIN:VCARD-Zeile)</translation>
    </message>
    <message>
        <source>binary file, not a CSV or vCard phonebook; skipped</source>
        <translation>Binärdatei, kein CSV- oder vCard-Telefonbuch; übersprungen</translation>
    </message>
    <message>
        <source>cannot parse the file ({problem}); skipped</source>
        <translation>Datei kann nicht ausgewertet werden ({problem}); übersprungen</translation>
    </message>
    <message>
        <source>cannot read {number} as a phone number ({contact})</source>
        <translation>{number} ist keine lesbare Telefonnummer ({contact})</translation>
    </message>
    <message>
        <source>not enough memory to read the file; not used</source>
        <translation>nicht genug Speicher, um die Datei zu lesen; nicht verwendet</translation>
    </message>
</context>
<context>
    <name>Popup</name>
    <message>
        <source>&amp;Copy number</source>
        <extracomment>Logical (device-independent) width of a popup; Qt scales it on high-DPI screens. The drag-and-drop type of a call (its history key, UTF-8): a popup or the console&apos;s own line dragged onto a colleague puts that call through. How long the pointer must be off the stack before it reflows (ms): crossing the gap between two popups is not leaving.</extracomment>
        <translation>Nummer &amp;kopieren</translation>
    </message>
    <message>
        <source>Call</source>
        <extracomment>The height changed (a row shown or hidden): the stack re-places. Accent colours of the stripe on the left, by the view&apos;s accent.</extracomment>
        <translation>Anruf</translation>
    </message>
    <message>
        <source>Incoming call</source>
        <translation>Eingehender Anruf</translation>
    </message>
    <message>
        <source>Dismiss (Esc)</source>
        <extracomment>The window that was active when the popup appeared (weakly: popups come and go by the thousand, and a chain of them holding each other would never be freed). What screen readers were told last (the caller and the state).</extracomment>
        <translation>Schließen (Esc)</translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation>Schließen</translation>
    </message>
    <message>
        <source>&amp;Answer</source>
        <translation>&amp;Annehmen</translation>
    </message>
    <message>
        <source>Open C&amp;RM</source>
        <translation>C&amp;RM öffnen</translation>
    </message>
    <message>
        <source>Put &amp;through…</source>
        <translation>&amp;Vermitteln…</translation>
    </message>
    <message>
        <source>Put the call through to a colleague: the console opens, type a name and press Enter (Alt+T; or drag the popup onto a colleague)</source>
        <translation>Den Anruf an einen Kollegen vermitteln: Der Vermittlungsplatz öffnet sich, Namen eintippen und Enter drücken (Alt+V; oder das Anruffenster auf einen Kollegen ziehen)</translation>
    </message>
    <message>
        <source>&amp;Note…</source>
        <translation>&amp;Notiz…</translation>
    </message>
    <message>
        <source>Write a phone note about this call: for a colleague, callback wanted, sent by e-mail if you like (Alt+N)</source>
        <translation>Eine Telefonnotiz zu diesem Anruf schreiben: für einen Kollegen, mit Rückrufwunsch, auf Wunsch per E-Mail (Alt+N)</translation>
    </message>
    <message>
        <source>Answer at your phone (Alt+A)</source>
        <translation>An Ihrem Telefon annehmen (Alt+A)</translation>
    </message>
    <message>
        <source>Copy the number (Alt+C)</source>
        <translation>Die Nummer kopieren (Alt+K)</translation>
    </message>
    <message>
        <source>Look the caller up in the CRM (Alt+R)</source>
        <translation>Den Anrufer im CRM nachschlagen (Alt+R)</translation>
    </message>
    <message>
        <source>Incoming call: {caller}. {state}.</source>
        <translation>Eingehender Anruf: {caller}. {state}.</translation>
    </message>
    <message>
        <source>Call from {caller}: {state}.</source>
        <translation>Anruf von {caller}: {state}.</translation>
    </message>
    <message>
        <source>Copied ✓</source>
        <translation>Kopiert ✓</translation>
    </message>
    <message>
        <source>More calls</source>
        <translation>Weitere Anrufe</translation>
    </message>
    <message>
        <source>Show the call history</source>
        <translation>Anrufliste anzeigen</translation>
    </message>
</context>
<context>
    <name>Prompts</name>
    <message>
        <source>Welcome</source>
        <translation>Willkommen</translation>
    </message>
    <message>
        <source>No PBX is set up yet.

Try cstapopup with a simulated PBX and made-up calls, or enter your PBX&apos;s address and the phones to watch.</source>
        <translation>Es ist noch keine Telefonanlage eingerichtet.

Probieren Sie cstapopup mit einer simulierten Telefonanlage und erfundenen Anrufen aus, oder geben Sie die Adresse Ihrer Telefonanlage und die zu überwachenden Telefone ein.</translation>
    </message>
    <message>
        <source>Try the &amp;demo</source>
        <translation>&amp;Demo ausprobieren</translation>
    </message>
    <message>
        <source>Open &amp;settings…</source>
        <translation>&amp;Einstellungen öffnen…</translation>
    </message>
    <message>
        <source>&amp;Later</source>
        <translation>&amp;Später</translation>
    </message>
    <message>
        <source>Broker password</source>
        <translation>Passwort des Brokers</translation>
    </message>
    <message>
        <source>PBX password</source>
        <translation>Passwort der Telefonanlage</translation>
    </message>
    <message>
        <source>Password for {user} at {host}:</source>
        <translation>Passwort für {user} an {host}:</translation>
    </message>
</context>
<context>
    <name>Refusals</name>
    <message>
        <source>Not connected to the PBX</source>
        <translation>Keine Verbindung zur Telefonanlage</translation>
    </message>
    <message>
        <source>The PBX did not answer in time</source>
        <translation>Die Telefonanlage hat nicht rechtzeitig geantwortet</translation>
    </message>
    <message>
        <source>The PBX does not take this request (it may not offer it)</source>
        <translation>Die Telefonanlage nimmt diese Anforderung nicht an (sie bietet sie vielleicht nicht an)</translation>
    </message>
    <message>
        <source>{target} is busy</source>
        <translation>{target} ist besetzt</translation>
    </message>
    <message>
        <source>The other phone is busy</source>
        <translation>Das andere Telefon ist besetzt</translation>
    </message>
    <message>
        <source>{target} does not exist</source>
        <translation>{target} gibt es nicht</translation>
    </message>
    <message>
        <source>The PBX does not know that number</source>
        <translation>Die Telefonanlage kennt diese Nummer nicht</translation>
    </message>
    <message>
        <source>{target} is out of service</source>
        <translation>{target} ist außer Betrieb</translation>
    </message>
    <message>
        <source>The other phone is out of service</source>
        <translation>Das andere Telefon ist außer Betrieb</translation>
    </message>
    <message>
        <source>The call is no longer there</source>
        <translation>Der Anruf besteht nicht mehr</translation>
    </message>
    <message>
        <source>The call is not in a state that allows this (it changed meanwhile)</source>
        <translation>Der Anruf ist nicht in einem Zustand, der das erlaubt (er hat sich inzwischen geändert)</translation>
    </message>
    <message>
        <source>Your phone ({own}) is busy</source>
        <translation>Ihr Telefon ({own}) ist besetzt</translation>
    </message>
    <message>
        <source>Your phone is busy</source>
        <translation>Ihr Telefon ist besetzt</translation>
    </message>
    <message>
        <source>No line is free at the moment</source>
        <translation>Zurzeit ist keine Leitung frei</translation>
    </message>
    <message>
        <source>The PBX does not allow this for {target}</source>
        <translation>Die Telefonanlage erlaubt das für {target} nicht</translation>
    </message>
    <message>
        <source>The PBX does not allow this</source>
        <translation>Die Telefonanlage erlaubt das nicht</translation>
    </message>
    <message>
        <source>The PBX does not offer this</source>
        <translation>Die Telefonanlage bietet das nicht an</translation>
    </message>
    <message>
        <source>The PBX is short of resources ({reason})</source>
        <translation>Der Telefonanlage fehlen Ressourcen ({reason})</translation>
    </message>
    <message>
        <source>The PBX refused ({reason})</source>
        <translation>Die Telefonanlage hat abgelehnt ({reason})</translation>
    </message>
    <message>
        <source>The PBX refused (no reason given)</source>
        <translation>Die Telefonanlage hat abgelehnt (ohne Angabe von Gründen)</translation>
    </message>
    <message>
        <source>The office gateway does not let your broker user {user} control {device} (its rights file says which phones each user may control)</source>
        <translation>Das Büro-Gateway erlaubt Ihrem Broker-Benutzer {user} nicht, {device} zu steuern (seine Rechtedatei legt fest, welche Telefone jeder Benutzer steuern darf)</translation>
    </message>
    <message>
        <source>The office gateway does not let your broker user {user} control the phone of this call (its rights file says which phones each user may control)</source>
        <translation>Das Büro-Gateway erlaubt Ihrem Broker-Benutzer {user} nicht, das Telefon dieses Anrufs zu steuern (seine Rechtedatei legt fest, welche Telefone jeder Benutzer steuern darf)</translation>
    </message>
    <message>
        <source>The office gateway does not let this computer control {device} (its rights file says which phones each user may control)</source>
        <translation>Das Büro-Gateway erlaubt diesem Computer nicht, {device} zu steuern (seine Rechtedatei legt fest, welche Telefone jeder Benutzer steuern darf)</translation>
    </message>
    <message>
        <source>The office gateway does not let this computer control the phone of this call (its rights file says which phones each user may control)</source>
        <translation>Das Büro-Gateway erlaubt diesem Computer nicht, das Telefon dieses Anrufs zu steuern (seine Rechtedatei legt fest, welche Telefone jeder Benutzer steuern darf)</translation>
    </message>
</context>
<context>
    <name>SelfTest</name>
    <message>
        <source>self-test: FAILED: {problem}</source>
        <extracomment>The self-test&apos;s bound on everything it waits for (seconds). Virtual seconds per real second of the self-test&apos;s simulated call. The self-test&apos;s caller, where its call rings, and the colleague it is put through to. How long a second start waits for the running instance to answer (ms). Exit codes of the desktop app (also in `cstapopup --help`).</extracomment>
        <translation>Selbsttest: FEHLGESCHLAGEN: {problem}</translation>
    </message>
    <message>
        <source>starting the app</source>
        <translation>Start der App</translation>
    </message>
    <message>
        <source>self-test: {step}</source>
        <translation>Selbsttest: {step}</translation>
    </message>
    <message>
        <source>language: {language}</source>
        <translation>Sprache: {language}</translation>
    </message>
    <message>
        <source>connecting to the simulated PBX</source>
        <translation>Verbindung zur simulierten Telefonanlage</translation>
    </message>
    <message>
        <source>link: {state}</source>
        <translation>Verbindung: {state}</translation>
    </message>
    <message>
        <source>waiting for colleague {device}&apos;s lamp</source>
        <translation>Warten auf die Lampe von Kollege {device}</translation>
    </message>
    <message>
        <source>colleague {colleague} is free</source>
        <translation>Kollege {colleague} ist frei</translation>
    </message>
    <message>
        <source>waiting for the popup of a call ringing at {device}</source>
        <translation>Warten auf das Anruffenster eines Anrufs bei {device}</translation>
    </message>
    <message>
        <source>the simulated PBX would not ring {device}</source>
        <translation>die simulierte Telefonanlage ließ {device} nicht klingeln</translation>
    </message>
    <message>
        <source>the call has no popup on screen</source>
        <translation>der Anruf hat kein Anruffenster auf dem Bildschirm</translation>
    </message>
    <message>
        <source>popup for {caller} ringing at {device} after {ms} ms</source>
        <translation>Anruffenster für {caller}, klingelt bei {device}, nach {ms} ms</translation>
    </message>
    <message>
        <source>  popup: {text}</source>
        <translation>  Anruffenster: {text}</translation>
    </message>
    <message>
        <source>answering with the popup&apos;s Answer button</source>
        <translation>Annehmen mit der Schaltfläche „Annehmen“ des Anruffensters</translation>
    </message>
    <message>
        <source>answered at {device}: {line}</source>
        <translation>angenommen an {device}: {line}</translation>
    </message>
    <message>
        <source>putting the call through to {device} from the console</source>
        <translation>Vermitteln des Anrufs an {device} vom Vermittlungsplatz aus</translation>
    </message>
    <message>
        <source>put through to {colleague}; its lamp: {state}</source>
        <translation>vermittelt an {colleague}; Lampe: {state}</translation>
    </message>
    <message>
        <source>waiting for the history row to show the transfer</source>
        <translation>Warten auf die Vermittlung in der Anrufliste</translation>
    </message>
    <message>
        <source>the history window shows {text} for the call</source>
        <translation>die Anrufliste zeigt {text} für den Anruf</translation>
    </message>
    <message>
        <source>history: {outcome} ({way})</source>
        <translation>Anrufliste: {outcome} ({way})</translation>
    </message>
    <message>
        <source>self-test: ok: popup, answer, transfer and history in {seconds} s</source>
        <translation>Selbsttest: OK: Anruffenster, Annehmen, Vermitteln und Anrufliste in {seconds} s</translation>
    </message>
    <message>
        <source>self-test: FAILED: timed out ({seconds} s) while {step} (link: {link})</source>
        <translation>Selbsttest: FEHLGESCHLAGEN: Zeitüberschreitung ({seconds} s) bei: {step} (Verbindung: {link})</translation>
    </message>
    <message>
        <source>self-test: FAILED: timed out ({seconds} s) while {step}</source>
        <translation>Selbsttest: FEHLGESCHLAGEN: Zeitüberschreitung ({seconds} s) bei: {step}</translation>
    </message>
    <message>
        <source>self-test: FAILED while {step}: {problem}</source>
        <translation>Selbsttest: FEHLGESCHLAGEN bei: {step}: {problem}</translation>
    </message>
    <message>
        <source>self-test: shutting down failed: {problem}</source>
        <translation>Selbsttest: Beenden fehlgeschlagen: {problem}</translation>
    </message>
</context>
<context>
    <name>Session</name>
    <message>
        <source>the simulated PBX</source>
        <extracomment>Settings the desk works with (DeskConfig). Asks the user for the PBX password and calls back with it (None: cancelled). Runs a coroutine in the background (`what` names it in an error message). Virtual seconds per real second of the embedded simulator (demo, self-test). The settings file (None: the user&apos;s config file). Folder of the history files (None: the user&apos;s data folder, or $CSTAPOPUP_DATA_DIR). The options of the way through the office gateway (its client&apos;s). Show the history window at start: None = only when there is no system tray. Overrides popup.close_after_seconds (self-test, benchmarks). Passwords typed in this run (asked for, or entered in the settings), by way.</extracomment>
        <translation>der simulierten Telefonanlage</translation>
    </message>
    <message>
        <source>the self-test PBX</source>
        <translation>der Selbsttest-Telefonanlage</translation>
    </message>
    <message>
        <source>no PBX set up yet: open the settings</source>
        <translation>noch keine Telefonanlage eingerichtet: Öffnen Sie die Einstellungen</translation>
    </message>
    <message>
        <source>no office gateway set up yet: open the settings</source>
        <translation>noch kein Büro-Gateway eingerichtet: Öffnen Sie die Einstellungen</translation>
    </message>
    <message>
        <source>waiting for the PBX password</source>
        <translation>warte auf das Passwort der Telefonanlage</translation>
    </message>
    <message>
        <source>waiting for the broker password</source>
        <translation>warte auf das Passwort des Brokers</translation>
    </message>
    <message>
        <source>no password entered: not connected (enter it in the settings)</source>
        <translation>kein Passwort eingegeben: nicht verbunden (geben Sie es in den Einstellungen ein)</translation>
    </message>
    <message>
        <source>connecting</source>
        <translation>beim Verbinden</translation>
    </message>
    <message>
        <source>Start at login</source>
        <translation>Beim Anmelden starten</translation>
    </message>
    <message>
        <source>Could not change the login item: {problem}</source>
        <translation>Der Autostart-Eintrag konnte nicht geändert werden: {problem}</translation>
    </message>
    <message>
        <source>reconnecting</source>
        <translation>beim erneuten Verbinden</translation>
    </message>
    <message>
        <source>Settings saved</source>
        <translation>Einstellungen gespeichert</translation>
    </message>
    <message>
        <source>The demo keeps its simulated PBX; your PBX settings are used when cstapopup starts without --demo.</source>
        <translation>Die Demo behält ihre simulierte Telefonanlage; Ihre Einstellungen für die Telefonanlage gelten, wenn cstapopup ohne --demo startet.</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>Do not disturb was not saved: {problem}</source>
        <translation>„Nicht stören“ wurde nicht gespeichert: {problem}</translation>
    </message>
</context>
<context>
    <name>Settings</name>
    <message>
        <source>&quot;{text}&quot; is not a whole number</source>
        <extracomment>Overrides the configuration directory (tests, portable installs, several profiles). The two ways to the PBX (`pbx.connection`): a CSTA link of this computer&apos;s own, or through the office gateway and its MQTT broker. Where each link&apos;s password lives in the TOML file, only when `pbx.password_storage` is &quot;plaintext&quot;. The HiPath factory password of the CSTA user: the app logs in with it while no password is stored (and says so), as `cstapopup monitor` does without --password. Values filled into the help text&apos;s {fields} (&quot;TCP port ... (HiPath: {port})&quot;). The way to the PBX this option belongs to (LINK_DIRECT, LINK_GATEWAY); None: either. The dialog shows it only while that way is chosen.</extracomment>
        <translation>„{text}“ ist keine ganze Zahl</translation>
    </message>
    <message>
        <source>say true or false, not &quot;{text}&quot;</source>
        <translation>true oder false angeben, nicht „{text}“</translation>
    </message>
    <message>
        <source>{label}: {reason}</source>
        <translation>{label}: {reason}</translation>
    </message>
    <message>
        <source>expected text, got {value}</source>
        <translation>Text erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>expected a whole number, got {value}</source>
        <translation>ganze Zahl erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>{value} is too small (at least {minimum})</source>
        <translation>{value} ist zu klein (mindestens {minimum})</translation>
    </message>
    <message>
        <source>{value} is too large (at most {maximum})</source>
        <translation>{value} ist zu groß (höchstens {maximum})</translation>
    </message>
    <message>
        <source>expected true or false, got {value}</source>
        <translation>true oder false erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>{value} is not one of {choices}</source>
        <translation>{value} ist keiner der Werte {choices}</translation>
    </message>
    <message>
        <source>expected a device number, got {value}</source>
        <translation>Nebenstellennummer erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>&quot;{value}&quot; is not a device number (digits only)</source>
        <translation>„{value}“ ist keine Nebenstellennummer (nur Ziffern)</translation>
    </message>
    <message>
        <source>expected a list of device numbers, got {value}</source>
        <translation>Liste von Nebenstellennummern erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>{value} is listed twice</source>
        <translation>{value} ist doppelt aufgeführt</translation>
    </message>
    <message>
        <source>expected a device number with an optional name, got {value}</source>
        <extracomment>&quot;101&quot;, &quot;101 Anna Berger&quot;, &quot;101 = Anna Berger&quot;, &quot;110-119&quot; (a range has no name). The most devices one range may stand for.</extracomment>
        <translation>Nebenstellennummer mit optionalem Namen erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>&quot;{value}&quot; is not a device number, a range like 110-119, or a number and a name</source>
        <translation>„{value}“ ist weder eine Nebenstellennummer noch ein Bereich wie 110-119 noch eine Nummer mit Namen</translation>
    </message>
    <message>
        <source>&quot;{value}&quot;: a range cannot have a name</source>
        <translation>„{value}“: Ein Bereich kann keinen Namen haben</translation>
    </message>
    <message>
        <source>&quot;{first}-{last}&quot; is not a range (write the lower number first, both with as many digits)</source>
        <translation>„{first}-{last}“ ist kein Bereich (die kleinere Nummer zuerst, beide mit gleich vielen Ziffern)</translation>
    </message>
    <message>
        <source>&quot;{first}-{last}&quot; is too large a range (at most {maximum} devices)</source>
        <translation>„{first}-{last}“ ist ein zu großer Bereich (höchstens {maximum} Nebenstellen)</translation>
    </message>
    <message>
        <source>expected a file name, got {value}</source>
        <translation>Dateiname erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>expected a list of file names, got {value}</source>
        <translation>Liste von Dateinamen erwartet, nicht {value}</translation>
    </message>
    <message>
        <source>give the host name or IP address only, without http:// or tcp://</source>
        <translation>nur Hostname oder IP-Adresse angeben, ohne http:// oder tcp://</translation>
    </message>
    <message>
        <source>a host name has no spaces</source>
        <translation>ein Hostname enthält keine Leerzeichen</translation>
    </message>
    <message>
        <source>give the host without the port; the port has its own field</source>
        <translation>den Host ohne Port angeben; der Port hat ein eigenes Feld</translation>
    </message>
    <message>
        <source>&quot;{host}&quot; is not a valid IP address</source>
        <translation>„{host}“ ist keine gültige IP-Adresse</translation>
    </message>
    <message>
        <source>&quot;{host}&quot; is not a valid host name</source>
        <translation>„{host}“ ist kein gültiger Hostname</translation>
    </message>
    <message>
        <source>the PBX needs a user name (usually {user})</source>
        <translation>die Telefonanlage braucht einen Benutzernamen (meist {user})</translation>
    </message>
    <message>
        <source>the user name has no spaces</source>
        <translation>der Benutzername enthält keine Leerzeichen</translation>
    </message>
    <message>
        <source>&quot;{code}&quot; is not a two-letter country code (DE, AT, CH, ...)</source>
        <translation>„{code}“ ist kein zweistelliger Ländercode (DE, AT, CH, …)</translation>
    </message>
    <message>
        <source>&quot;{code}&quot; is not a country code the number formatting knows</source>
        <translation>„{code}“ ist kein Ländercode, den die Nummernformatierung kennt</translation>
    </message>
    <message>
        <source>{what}: digits only, at most {maximum}</source>
        <translation>{what}: nur Ziffern, höchstens {maximum}</translation>
    </message>
    <message>
        <source>unbalanced {{ or }}: write {{{{ and }}}} for literal braces</source>
        <translation>{{ oder }} ohne Gegenstück: Schreiben Sie {{{{ und }}}} für geschweifte Klammern</translation>
    </message>
    <message>
        <source>unknown placeholder {placeholder}: use {{number}} and {{name}}</source>
        <translation>unbekannter Platzhalter {placeholder}: Verwenden Sie {{number}} und {{name}}</translation>
    </message>
    <message>
        <source>write the placeholder as {placeholder}, without : or !</source>
        <translation>schreiben Sie den Platzhalter als {placeholder}, ohne : oder !</translation>
    </message>
    <message>
        <source>the address must start with http:// or https://</source>
        <translation>die Adresse muss mit http:// oder https:// beginnen</translation>
    </message>
    <message>
        <source>the address has no host after http(s)://</source>
        <translation>die Adresse hat keinen Host nach http(s)://</translation>
    </message>
    <message>
        <source>PBX</source>
        <extracomment>Section name -&gt; title shown in the dialog (tabs, in this order; marked for translation).</extracomment>
        <translation>Telefonanlage</translation>
    </message>
    <message>
        <source>Devices</source>
        <translation>Nebenstellen</translation>
    </message>
    <message>
        <source>Popup</source>
        <translation>Anruffenster</translation>
    </message>
    <message>
        <source>Phonebook</source>
        <translation>Telefonbuch</translation>
    </message>
    <message>
        <source>Numbers</source>
        <translation>Rufnummern</translation>
    </message>
    <message>
        <source>CRM</source>
        <translation>CRM</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Anrufliste</translation>
    </message>
    <message>
        <source>App</source>
        <translation>Programm</translation>
    </message>
    <message>
        <source>Phone books (*.csv *.vcf *.vcard);;All files (*)</source>
        <extracomment>Sections shown on another section&apos;s tab: the office gateway&apos;s settings are the other way to the PBX, chosen on the PBX tab.</extracomment>
        <translation>Telefonbücher (*.csv *.vcf *.vcard);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>&amp;Host</source>
        <translation>&amp;Host</translation>
    </message>
    <message>
        <source>Host name or IP address of the PBX&apos;s CSTA interface. Empty: not configured yet.</source>
        <translation>Hostname oder IP-Adresse der CSTA-Schnittstelle der Telefonanlage. Leer: noch nicht eingerichtet.</translation>
    </message>
    <message>
        <source>e.g. 192.0.2.1</source>
        <translation>z. B. 192.0.2.1</translation>
    </message>
    <message>
        <source>&amp;Port</source>
        <translation>&amp;Port</translation>
    </message>
    <message>
        <source>TCP port of the CSTA interface (HiPath: {port}).</source>
        <translation>TCP-Port der CSTA-Schnittstelle (HiPath: {port}).</translation>
    </message>
    <message>
        <source>&amp;User</source>
        <translation>&amp;Benutzer</translation>
    </message>
    <message>
        <source>User name the PBX expects for CSTA applications (usually {user}).</source>
        <translation>Benutzername, den die Telefonanlage für CSTA-Anwendungen erwartet (meist {user}).</translation>
    </message>
    <message>
        <source>Keep password &amp;in</source>
        <translation>Passwort aufbewahren &amp;in</translation>
    </message>
    <message>
        <source>System keyring</source>
        <translation>Schlüsselbund des Systems</translation>
    </message>
    <message>
        <source>Settings file (plain text)</source>
        <translation>Einstellungsdatei (Klartext)</translation>
    </message>
    <message>
        <source>Nowhere: ask at each start</source>
        <translation>Nirgends: bei jedem Start fragen</translation>
    </message>
    <message>
        <source>Use TL&amp;S</source>
        <translation>TL&amp;S verwenden</translation>
    </message>
    <message>
        <source>Encrypt the link (only if the PBX or a TLS proxy in front of it offers it).</source>
        <translation>Die Verbindung verschlüsseln (nur wenn die Telefonanlage oder ein vorgeschalteter TLS-Proxy das anbietet).</translation>
    </message>
    <message>
        <source>C&amp;A certificate</source>
        <translation>&amp;CA-Zertifikat</translation>
    </message>
    <message>
        <source>PEM file of the authority that signed the PBX&apos;s certificate. Empty: the system&apos;s certificates.</source>
        <translation>PEM-Datei der Zertifizierungsstelle, die das Zertifikat der Telefonanlage signiert hat. Leer: die Zertifikate des Systems.</translation>
    </message>
    <message>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <extracomment>The languages the app speaks: value -&gt; its name, in itself (not translated: whoever cannot read the current language finds their own). &quot;auto&quot;: the system&apos;s (the desktop&apos;s locale).</extracomment>
        <translation>Zertifikate (*.pem *.crt *.cer);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>start the address with mqtt:// (or mqtts:// for TLS), e.g. mqtts://broker.office:8883</source>
        <translation>beginnen Sie die Adresse mit mqtt:// (oder mqtts:// für TLS), z. B. mqtts://broker.office:8883</translation>
    </message>
    <message>
        <source>put the password in the password field, not in the URL</source>
        <translation>geben Sie das Passwort im Passwortfeld ein, nicht in der URL</translation>
    </message>
    <message>
        <source>put the user name in its own field, not in the address</source>
        <translation>geben Sie den Benutzernamen in seinem eigenen Feld ein, nicht in der Adresse</translation>
    </message>
    <message>
        <source>the address has no host</source>
        <translation>die Adresse enthält keinen Host</translation>
    </message>
    <message>
        <source>bad port in the address (use 1 to 65535)</source>
        <translation>ungültiger Port in der Adresse (erlaubt sind 1 bis 65535)</translation>
    </message>
    <message>
        <source>no path expected after the host and port</source>
        <translation>nach Host und Port darf kein Pfad folgen</translation>
    </message>
    <message>
        <source>use 1-64 letters, digits, _ . @ or - (as the office gateway&apos;s --site)</source>
        <translation>verwenden Sie 1-64 Buchstaben, Ziffern, _ . @ oder - (wie beim --site des Büro-Gateways)</translation>
    </message>
    <message>
        <source>use 1-64 letters, digits, _ . @ or -</source>
        <translation>verwenden Sie 1-64 Buchstaben, Ziffern, _ . @ oder -</translation>
    </message>
    <message>
        <source>&amp;Connect</source>
        <translation>&amp;Verbindung</translation>
    </message>
    <message>
        <source>How this computer reaches the PBX: a CSTA link of its own, or through the office gateway (cstapopup gateway), which shares one PBX link with every desktop of the office through an MQTT broker.</source>
        <translation>Wie dieser Computer die Telefonanlage erreicht: über eine eigene CSTA-Verbindung oder über das Büro-Gateway (cstapopup gateway), das eine Verbindung zur Telefonanlage über einen MQTT-Broker mit allen Arbeitsplätzen im Büro teilt.</translation>
    </message>
    <message>
        <source>PBX directly</source>
        <translation>Direkt zur Telefonanlage</translation>
    </message>
    <message>
        <source>Office gateway</source>
        <translation>Über das Büro-Gateway</translation>
    </message>
    <message>
        <source>Broker &amp;address</source>
        <translation>Broker-&amp;Adresse</translation>
    </message>
    <message>
        <source>Address of the office&apos;s MQTT broker: mqtt://HOST[:1883], or mqtts://HOST[:8883] with TLS. Empty: not configured yet.</source>
        <translation>Adresse des MQTT-Brokers im Büro: mqtt://HOST[:1883] oder mqtts://HOST[:8883] mit TLS. Leer: noch nicht eingerichtet.</translation>
    </message>
    <message>
        <source>e.g. mqtts://broker.office:8883</source>
        <translation>z. B. mqtts://broker.office:8883</translation>
    </message>
    <message>
        <source>Broker use&amp;r</source>
        <translation>Broker-Benutze&amp;r</translation>
    </message>
    <message>
        <source>Your user name at the broker; the office gateway lets it control the phones its rights file gives it.</source>
        <translation>Ihr Benutzername beim Broker; das Büro-Gateway lässt ihn die Telefone steuern, die ihm seine Rechtedatei zuweist.</translation>
    </message>
    <message>
        <source>Broker CA &amp;file</source>
        <translation>CA-&amp;Zertifikat des Brokers</translation>
    </message>
    <message>
        <source>PEM file of the authority that signed the broker&apos;s certificate (mqtts://). Empty: the system&apos;s certificates.</source>
        <translation>PEM-Datei der Zertifizierungsstelle, die das Zertifikat des Brokers signiert hat (mqtts://). Leer: die Zertifikate des Systems.</translation>
    </message>
    <message>
        <source>Sit&amp;e</source>
        <translation>Sta&amp;ndort</translation>
    </message>
    <message>
        <source>The site name the office gateway was started with (its --site).</source>
        <translation>Der Standortname, mit dem das Büro-Gateway gestartet wurde (sein --site).</translation>
    </message>
    <message>
        <source>Where the password (the PBX&apos;s, or the broker&apos;s) is kept: the system keyring, the settings file in plain text (only after you confirm), or nowhere (you are asked at each start).</source>
        <translation>Wo das Passwort (das der Telefonanlage oder das des Brokers) aufbewahrt wird: im Schlüsselbund des Systems, als Klartext in der Einstellungsdatei (nur nach Ihrer Bestätigung) oder nirgends (Sie werden bei jedem Start gefragt).</translation>
    </message>
    <message>
        <source>&amp;Monitored devices</source>
        <translation>Über&amp;wachte Nebenstellen</translation>
    </message>
    <message>
        <source>Phone numbers (extensions) whose calls pop up and are recorded, separated by commas.</source>
        <translation>Rufnummern (Nebenstellen), deren Anrufe ein Anruffenster öffnen und aufgezeichnet werden, durch Kommas getrennt.</translation>
    </message>
    <message>
        <source>e.g. 100, 101</source>
        <translation>z. B. 100, 101</translation>
    </message>
    <message>
        <source>&amp;Your own phone</source>
        <translation>&amp;Eigenes Telefon</translation>
    </message>
    <message>
        <source>Your own extension, one of the monitored devices: the Answer button appears for calls ringing there. Empty: none.</source>
        <translation>Ihre eigene Nebenstelle, eine der überwachten: Für Anrufe, die dort klingeln, erscheint die Schaltfläche „Annehmen“. Leer: keine.</translation>
    </message>
    <message>
        <source>Co&amp;lleagues</source>
        <translation>&amp;Kollegen</translation>
    </message>
    <message>
        <source>Extensions shown in the colleagues panel, each with an optional name (&quot;101 Anna Berger, 102, 110-119&quot;); without one, the phone book&apos;s name. Empty: the monitored devices. Each is monitored too: those beyond the PBX&apos;s limit show as not monitored.</source>
        <translation>Nebenstellen im Kollegenbereich, jede mit optionalem Namen („101 Anna Berger, 102, 110-119“); ohne Namen gilt der aus dem Telefonbuch. Leer: die überwachten Nebenstellen. Jede wird ebenfalls überwacht: Nebenstellen über der Grenze der Telefonanlage erscheinen als nicht überwacht.</translation>
    </message>
    <message>
        <source>e.g. 101 Anna Berger, 102, 110-119</source>
        <translation>z. B. 101 Anna Berger, 102, 110-119</translation>
    </message>
    <message>
        <source>&amp;Screen</source>
        <translation>&amp;Bildschirm</translation>
    </message>
    <message>
        <source>Where popups appear when there are several screens.</source>
        <translation>Wo Anruffenster erscheinen, wenn es mehrere Bildschirme gibt.</translation>
    </message>
    <message>
        <source>Primary screen</source>
        <translation>Hauptbildschirm</translation>
    </message>
    <message>
        <source>Screen with the mouse pointer</source>
        <translation>Bildschirm mit dem Mauszeiger</translation>
    </message>
    <message>
        <source>Co&amp;rner</source>
        <translation>&amp;Ecke</translation>
    </message>
    <message>
        <source>Corner of the screen where popups stack up.</source>
        <translation>Bildschirmecke, in der sich die Anruffenster stapeln.</translation>
    </message>
    <message>
        <source>Bottom right</source>
        <translation>Unten rechts</translation>
    </message>
    <message>
        <source>Bottom left</source>
        <translation>Unten links</translation>
    </message>
    <message>
        <source>Top right</source>
        <translation>Oben rechts</translation>
    </message>
    <message>
        <source>Top left</source>
        <translation>Oben links</translation>
    </message>
    <message>
        <source>C&amp;lose after</source>
        <translation>&amp;Schließen nach</translation>
    </message>
    <message>
        <source>Seconds a popup stays after the call was answered elsewhere or ended (0: until dismissed). It never closes by itself while the phone rings.</source>
        <translation>Sekunden, die ein Anruffenster offen bleibt, nachdem der Anruf anderswo angenommen wurde oder beendet ist (0: bis Sie es schließen). Solange das Telefon klingelt, schließt es sich nie von selbst.</translation>
    </message>
    <message>
        <source>Stay until dismissed</source>
        <translation>Bis zum Schließen offen</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>&amp;Play a sound</source>
        <translation>&amp;Ton abspielen</translation>
    </message>
    <message>
        <source>Play a sound when a popup appears.</source>
        <translation>Einen Ton abspielen, wenn ein Anruffenster erscheint.</translation>
    </message>
    <message>
        <source>Sound &amp;file</source>
        <translation>Tondate&amp;i</translation>
    </message>
    <message>
        <source>WAV file to play. Empty: the built-in ring.</source>
        <translation>Abzuspielende WAV-Datei. Leer: der eingebaute Klingelton.</translation>
    </message>
    <message>
        <source>Sounds (*.wav);;All files (*)</source>
        <translation>Töne (*.wav);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Phone &amp;books</source>
        <translation>&amp;Telefonbücher</translation>
    </message>
    <message>
        <source>CSV or vCard files with names and numbers, looked up for every call.</source>
        <translation>CSV- oder vCard-Dateien mit Namen und Nummern, die bei jedem Anruf durchsucht werden.</translation>
    </message>
    <message>
        <source>Co&amp;untry</source>
        <translation>&amp;Land</translation>
    </message>
    <message>
        <source>Country of the PBX (ISO code such as DE, AT, CH): decides how numbers are written.</source>
        <translation>Land der Telefonanlage (ISO-Code wie DE, AT, CH): bestimmt, wie Nummern geschrieben werden.</translation>
    </message>
    <message>
        <source>&amp;Area code</source>
        <translation>&amp;Vorwahl</translation>
    </message>
    <message>
        <source>Area code of the PBX without the trunk prefix (89 for Munich), so local numbers are found in the phone book.</source>
        <translation>Ortsvorwahl der Telefonanlage ohne führende Null (89 für München), damit Ortsnummern im Telefonbuch gefunden werden.</translation>
    </message>
    <message>
        <source>e.g. 89</source>
        <translation>z. B. 89</translation>
    </message>
    <message>
        <source>area code</source>
        <translation>Vorwahl</translation>
    </message>
    <message>
        <source>&amp;Trunk access digit</source>
        <translation>Amts&amp;kennziffer</translation>
    </message>
    <message>
        <source>Digit(s) the PBX puts in front of outside numbers (its trunk access code, usually 0), stripped before the number is looked up. Empty: the PBX sends numbers without it.</source>
        <translation>Ziffer(n), die die Telefonanlage externen Nummern voranstellt (ihre Amtskennziffer, meist 0); sie wird vor dem Nachschlagen entfernt. Leer: Die Telefonanlage sendet Nummern ohne sie.</translation>
    </message>
    <message>
        <source>trunk access digit</source>
        <translation>Amtskennziffer</translation>
    </message>
    <message>
        <source>&amp;Internal numbers up to</source>
        <translation>&amp;Interne Nummern bis</translation>
    </message>
    <message>
        <source>Numbers with at most this many digits are extensions of the PBX, not outside calls.</source>
        <translation>Nummern mit höchstens so vielen Ziffern sind Nebenstellen der Telefonanlage, keine externen Anrufe.</translation>
    </message>
    <message>
        <source> digits</source>
        <translation> Ziffern</translation>
    </message>
    <message>
        <source>CRM &amp;address</source>
        <translation>CRM-Adr&amp;esse</translation>
    </message>
    <message>
        <source>Address opened by &quot;Open CRM&quot;; {number} and {name} are filled in. Empty: no button.</source>
        <translation>Adresse, die „CRM öffnen“ aufruft; {number} und {name} werden eingesetzt. Leer: keine Schaltfläche.</translation>
    </message>
    <message>
        <source>&amp;Keep calls for</source>
        <translation>Anrufe &amp;behalten</translation>
    </message>
    <message>
        <source>Calls older than this are deleted from the history; 0 keeps them forever.</source>
        <translation>Ältere Anrufe werden aus der Anrufliste gelöscht; 0 behält sie für immer.</translation>
    </message>
    <message>
        <source>Keep forever</source>
        <translation>Für immer</translation>
    </message>
    <message>
        <source> days</source>
        <translation> Tage</translation>
    </message>
    <message>
        <source>Lan&amp;guage</source>
        <translation>&amp;Sprache</translation>
    </message>
    <message>
        <source>The language of the windows, popups and messages: the system&apos;s (its locale settings), or one chosen here. A change takes effect when cstapopup starts again.</source>
        <translation>Die Sprache der Fenster, Anruffenster und Meldungen: die des Systems (seine Gebietsschema-Einstellungen) oder eine hier gewählte. Eine Änderung wirkt beim nächsten Start von cstapopup.</translation>
    </message>
    <message>
        <source>As the system (its locale)</source>
        <translation>Wie das System (Gebietsschema)</translation>
    </message>
    <message>
        <source>&amp;Start at login</source>
        <translation>Beim Anmelden s&amp;tarten</translation>
    </message>
    <message>
        <source>Start cstapopup when you log in.</source>
        <translation>cstapopup starten, wenn Sie sich anmelden.</translation>
    </message>
    <message>
        <source>&amp;Do not disturb</source>
        <translation>&amp;Nicht stören</translation>
    </message>
    <message>
        <source>No popups and no sound; calls are still recorded in the history.</source>
        <translation>Keine Anruffenster und kein Ton; Anrufe werden weiterhin in der Anrufliste aufgezeichnet.</translation>
    </message>
    <message>
        <source>there is no setting called {name}</source>
        <translation>es gibt keine Einstellung namens {name}</translation>
    </message>
    <message>
        <source>list at least one device to monitor</source>
        <translation>geben Sie mindestens eine zu überwachende Nebenstelle an</translation>
    </message>
    <message>
        <source>{device} is not one of the monitored devices</source>
        <translation>{device} ist keine der überwachten Nebenstellen</translation>
    </message>
    <message>
        <source>write the area code without the leading 0 ({right}, not {wrong})</source>
        <translation>schreiben Sie die Vorwahl ohne führende 0 ({right}, nicht {wrong})</translation>
    </message>
    <message>
        <source>Could not read {file} ({problem}); using the defaults.</source>
        <extracomment>On load, a cross-rule problem of these settings is fixed by using the default (the others are only reported: dropping the host because no device is listed would lose more). The parameters of either way to the PBX. What Settings.snapshot() gives and Settings.restore() takes: every value, and the plain-text passwords. The plain-text password of each way to the PBX (LINK_DIRECT, LINK_GATEWAY).</extracomment>
        <translation>{file} konnte nicht gelesen werden ({problem}); es gelten die Standardwerte.</translation>
    </message>
    <message>
        <source>Could not read {file} ({problem}) nor move it aside ({move_problem}); using the defaults.</source>
        <translation>{file} konnte weder gelesen ({problem}) noch beiseitegelegt werden ({move_problem}); es gelten die Standardwerte.</translation>
    </message>
    <message>
        <source>Could not read {file} ({problem}); it was moved to {moved} and the defaults are used.</source>
        <translation>{file} konnte nicht gelesen werden ({problem}); die Datei wurde in {moved} umbenannt, und es gelten die Standardwerte.</translation>
    </message>
    <message>
        <source>{section}: expected a [{section}] table; ignored.</source>
        <translation>{section}: eine Tabelle [{section}] erwartet; ignoriert.</translation>
    </message>
    <message>
        <source>Unknown setting {name} in {file}; kept but not used.</source>
        <translation>Unbekannte Einstellung {name} in {file}; beibehalten, aber nicht verwendet.</translation>
    </message>
    <message>
        <source>{name}: {problem}.</source>
        <translation>{name}: {problem}.</translation>
    </message>
    <message>
        <source>{key} is ignored (and removed on the next save) because pbx.password_storage is not &quot;plaintext&quot;.</source>
        <translation>{key} wird ignoriert (und beim nächsten Speichern entfernt), weil pbx.password_storage nicht „plaintext“ ist.</translation>
    </message>
    <message>
        <source>{key}: expected text; ignored.</source>
        <translation>{key}: Text erwartet; ignoriert.</translation>
    </message>
    <message>
        <source>none</source>
        <translation>keine</translation>
    </message>
    <message>
        <source>empty</source>
        <translation>leer</translation>
    </message>
    <message>
        <source>{name}: {problem}; using the default ({default}).</source>
        <translation>{name}: {problem}; es gilt der Standardwert ({default}).</translation>
    </message>
    <message>
        <source>{file} holds the password and was readable by others; its permissions were set to 0600.</source>
        <translation>{file} enthält das Passwort und war für andere lesbar; die Zugriffsrechte wurden auf 0600 gesetzt.</translation>
    </message>
    <message>
        <source>no system keyring is available to keep the password</source>
        <translation>kein Schlüsselbund des Systems verfügbar, um das Passwort aufzubewahren</translation>
    </message>
    <message>
        <source>the keyring did not store the password: {problem}</source>
        <translation>der Schlüsselbund hat das Passwort nicht gespeichert: {problem}</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Keep the password in plain text?</source>
        <extracomment>The name `settings_applied` reports when the password changed (it is not a setting): the PBX&apos;s, or the broker&apos;s (the office gateway).</extracomment>
        <translation>Passwort als Klartext aufbewahren?</translation>
    </message>
    <message>
        <source>&amp;Keep in plain text</source>
        <translation>Als &amp;Klartext aufbewahren</translation>
    </message>
    <message>
        <source>&amp;Don&apos;t keep it</source>
        <translation>&amp;Nicht aufbewahren</translation>
    </message>
    <message>
        <source>Settings not saved</source>
        <translation>Einstellungen nicht gespeichert</translation>
    </message>
    <message>
        <source>the language changes when cstapopup starts again</source>
        <translation>die Sprache wechselt beim nächsten Start von cstapopup</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>(keine)</translation>
    </message>
    <message>
        <source>&amp;Browse…</source>
        <translation>&amp;Durchsuchen…</translation>
    </message>
    <message>
        <source>Browse for {setting}</source>
        <translation>{setting} auswählen</translation>
    </message>
    <message>
        <source>this file is not there (right now)</source>
        <translation>diese Datei ist (im Moment) nicht vorhanden</translation>
    </message>
    <message>
        <source>&amp;Add…</source>
        <translation>&amp;Hinzufügen…</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;Entfernen</translation>
    </message>
    <message>
        <source>Add to {setting}</source>
        <translation>Zu „{setting}“ hinzufügen</translation>
    </message>
    <message>
        <source>Remove from {setting}</source>
        <translation>Aus „{setting}“ entfernen</translation>
    </message>
    <message>
        <source>not there (right now): {files}</source>
        <translation>(im Moment) nicht vorhanden: {files}</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>System keyring (none on this computer)</source>
        <extracomment>The store of each way&apos;s password (the PBX&apos;s, the broker&apos;s). The password typed in the dialog when OK was pressed (for this session when it is not stored); None when the field was left empty. The widgets of each row (its label, if any, and its field), shown or hidden with the way to the PBX they belong to.</extracomment>
        <translation>Schlüsselbund des Systems (auf diesem Computer keiner)</translation>
    </message>
    <message>
        <source>stored: type to replace</source>
        <translation>gespeichert: zum Ersetzen eintippen</translation>
    </message>
    <message>
        <source>not stored</source>
        <translation>nicht gespeichert</translation>
    </message>
    <message>
        <source>PBX password</source>
        <translation>Passwort der Telefonanlage</translation>
    </message>
    <message>
        <source>Broker password</source>
        <translation>Passwort des Brokers</translation>
    </message>
    <message>
        <source>Pass&amp;word</source>
        <translation>Pass&amp;wort</translation>
    </message>
    <message>
        <source>Broker passw&amp;ord</source>
        <translation>Broker-Passw&amp;ort</translation>
    </message>
    <message>
        <source>None is stored: cstapopup asks for it at each start.</source>
        <translation>Keines gespeichert: cstapopup fragt bei jedem Start danach.</translation>
    </message>
    <message>
        <source>None is stored: cstapopup logs in to the broker without a password.</source>
        <translation>Keines gespeichert: cstapopup meldet sich ohne Passwort beim Broker an.</translation>
    </message>
    <message>
        <source>None is stored: cstapopup logs in with the HiPath factory password {password}. Type your PBX&apos;s password if it has another.</source>
        <translation>Keines gespeichert: cstapopup meldet sich mit dem HiPath-Werkspasswort {password} an. Geben Sie das Passwort Ihrer Telefonanlage ein, falls sie ein anderes hat.</translation>
    </message>
    <message>
        <source>&amp;Test connection</source>
        <translation>Verbindung &amp;testen</translation>
    </message>
    <message>
        <source>Result of the test</source>
        <translation>Ergebnis des Tests</translation>
    </message>
    <message>
        <source>Not available in this build</source>
        <translation>In dieser Version nicht verfügbar</translation>
    </message>
    <message>
        <source>{count} ({sections}).</source>
        <translation>{count} ({sections}).</translation>
    </message>
    <message>
        <source>Enter a valid broker address, user and site first.</source>
        <translation>Geben Sie zuerst eine gültige Broker-Adresse, einen Benutzer und einen Standort ein.</translation>
    </message>
    <message>
        <source>Enter a valid host, port and user first.</source>
        <translation>Geben Sie zuerst einen gültigen Host, Port und Benutzer ein.</translation>
    </message>
    <message>
        <source>Testing…</source>
        <translation>Test läuft…</translation>
    </message>
    <message>
        <source>Test cancelled.</source>
        <translation>Test abgebrochen.</translation>
    </message>
    <message>
        <source>There is no system keyring on this computer to keep the PBX password and the broker password safely.

Keep them in plain text in {file}? Only your user account can read that file, but anyone with access to your account or its backups can.

If not, cstapopup asks for the passwords each time it starts.</source>
        <translation>Auf diesem Computer gibt es keinen Schlüsselbund des Systems, der das Passwort der Telefonanlage und das Passwort des Brokers sicher aufbewahrt.

Sollen sie als Klartext in {file} aufbewahrt werden? Nur Ihr Benutzerkonto kann diese Datei lesen, aber jeder mit Zugriff auf Ihr Konto oder dessen Sicherungen kann es auch.

Falls nicht, fragt cstapopup bei jedem Start nach den Passwörtern.</translation>
    </message>
    <message>
        <source>There is no system keyring on this computer to keep the broker password safely.

Keep it in plain text in {file}? Only your user account can read that file, but anyone with access to your account or its backups can.

If not, cstapopup asks for the password each time it starts.</source>
        <translation>Auf diesem Computer gibt es keinen Schlüsselbund des Systems, der das Passwort des Brokers sicher aufbewahrt.

Soll es als Klartext in {file} aufbewahrt werden? Nur Ihr Benutzerkonto kann diese Datei lesen, aber jeder mit Zugriff auf Ihr Konto oder dessen Sicherungen kann es auch.

Falls nicht, fragt cstapopup bei jedem Start nach dem Passwort.</translation>
    </message>
    <message>
        <source>There is no system keyring on this computer to keep the PBX password safely.

Keep it in plain text in {file}? Only your user account can read that file, but anyone with access to your account or its backups can.

If not, cstapopup asks for the password each time it starts.</source>
        <translation>Auf diesem Computer gibt es keinen Schlüsselbund des Systems, der das Passwort der Telefonanlage sicher aufbewahrt.

Soll es als Klartext in {file} aufbewahrt werden? Nur Ihr Benutzerkonto kann diese Datei lesen, aber jeder mit Zugriff auf Ihr Konto oder dessen Sicherungen kann es auch.

Falls nicht, fragt cstapopup bei jedem Start nach dem Passwort.</translation>
    </message>
    <message>
        <source>Keep the PBX password and the broker password in plain text in {file}?

Only your user account can read that file, but anyone with access to your account or its backups can.</source>
        <translation>Das Passwort der Telefonanlage und das Passwort des Brokers als Klartext in {file} aufbewahren?

Nur Ihr Benutzerkonto kann diese Datei lesen, aber jeder mit Zugriff auf Ihr Konto oder dessen Sicherungen kann es auch.</translation>
    </message>
    <message>
        <source>Keep the broker password in plain text in {file}?

Only your user account can read that file, but anyone with access to your account or its backups can.</source>
        <translation>Das Passwort des Brokers als Klartext in {file} aufbewahren?

Nur Ihr Benutzerkonto kann diese Datei lesen, aber jeder mit Zugriff auf Ihr Konto oder dessen Sicherungen kann es auch.</translation>
    </message>
    <message>
        <source>Keep the PBX password in plain text in {file}?

Only your user account can read that file, but anyone with access to your account or its backups can.</source>
        <translation>Das Passwort der Telefonanlage als Klartext in {file} aufbewahren?

Nur Ihr Benutzerkonto kann diese Datei lesen, aber jeder mit Zugriff auf Ihr Konto oder dessen Sicherungen kann es auch.</translation>
    </message>
    <message>
        <source>The password was not stored: {problem}</source>
        <translation>Das Passwort wurde nicht gespeichert: {problem}</translation>
    </message>
    <message>
        <source>Could not save {file}: {problem}</source>
        <translation>{file} konnte nicht gespeichert werden: {problem}</translation>
    </message>
    <message>
        <source>Test failed: {problem}</source>
        <translation>Test fehlgeschlagen: {problem}</translation>
    </message>
</context>
<context>
    <name>Shortcuts</name>
    <message>
        <source> or </source>
        <extracomment>The heading it is listed under in the help. The window whose key it is: &quot;console&quot; (the console makes an action of it), &quot;note&quot; (the phone note dialog).</extracomment>
        <translation> oder </translation>
    </message>
    <message>
        <source>Your phone</source>
        <translation>Ihr Telefon</translation>
    </message>
    <message>
        <source>Colleagues</source>
        <translation>Kollegen</translation>
    </message>
    <message>
        <source>Window</source>
        <translation>Fenster</translation>
    </message>
    <message>
        <source>Phone note</source>
        <translation>Telefonnotiz</translation>
    </message>
    <message>
        <source>Answer the call ringing at your phone</source>
        <translation>Den Anruf annehmen, der an Ihrem Telefon klingelt</translation>
    </message>
    <message>
        <source>Hang up (ends the consultation, the caller stays on hold)</source>
        <translation>Auflegen (beendet die Rückfrage, der Anrufer bleibt gehalten)</translation>
    </message>
    <message>
        <source>Hold the call, or take it back from hold</source>
        <translation>Das Gespräch halten oder zurückholen</translation>
    </message>
    <message>
        <source>Complete the transfer: the caller talks to the colleague you consulted</source>
        <translation>Übergeben: Der Anrufer spricht mit dem Kollegen, bei dem Sie rückgefragt haben</translation>
    </message>
    <message>
        <source>Back to the caller (ends the consultation)</source>
        <translation>Zurück zum Anrufer (beendet die Rückfrage)</translation>
    </message>
    <message>
        <source>Switch between the caller and the colleague</source>
        <translation>Zwischen Anrufer und Kollege makeln</translation>
    </message>
    <message>
        <source>Write a phone note about your phone&apos;s last call (in the history: about the chosen call)</source>
        <translation>Eine Telefonnotiz zum letzten Anruf Ihres Telefons schreiben (in der Anrufliste: zum gewählten Anruf)</translation>
    </message>
    <message>
        <source>The newest ringing popup takes the keyboard (then Alt+A answers, Tab moves, Esc dismisses)</source>
        <translation>Das neueste klingelnde Anruffenster erhält die Tastatur (dann nimmt Alt+A an, Tab springt weiter, Esc schließt)</translation>
    </message>
    <message>
        <source>Put the call through to the chosen colleague (blind; a ringing call is sent on)</source>
        <translation>Den Anruf an den gewählten Kollegen vermitteln (ohne Rückfrage; ein klingelnder Anruf wird weitergeleitet)</translation>
    </message>
    <message>
        <source>Consult first: the caller waits on hold while you call the chosen colleague</source>
        <translation>Mit Rückfrage: Der Anrufer wird gehalten, während Sie den gewählten Kollegen anrufen</translation>
    </message>
    <message>
        <source>Pick up the call ringing at the chosen colleague&apos;s phone</source>
        <translation>Den Anruf heranholen, der beim gewählten Kollegen klingelt</translation>
    </message>
    <message>
        <source>Find a colleague (or just start typing a name or number; Up and Down choose)</source>
        <translation>Einen Kollegen suchen (oder einfach Namen oder Nummer tippen; Pfeil hoch und runter wählen)</translation>
    </message>
    <message>
        <source>Show or hide this help</source>
        <translation>Diese Hilfe zeigen oder ausblenden</translation>
    </message>
    <message>
        <source>Open the call history</source>
        <translation>Die Anrufliste öffnen</translation>
    </message>
    <message>
        <source>Clear the search, cancel putting a popup&apos;s call through, close the help, else close the window</source>
        <translation>Die Suche leeren, das Vermitteln aus einem Anruffenster abbrechen, die Hilfe schließen, sonst das Fenster schließen</translation>
    </message>
    <message>
        <source>Close the window (cstapopup stays in the tray)</source>
        <translation>Das Fenster schließen (cstapopup bleibt im Infobereich)</translation>
    </message>
    <message>
        <source>Save the note (Alt+E: save it and send it by e-mail)</source>
        <translation>Notiz speichern (Alt+E: speichern und per E-Mail senden)</translation>
    </message>
    <message>
        <source>Close the note without saving</source>
        <translation>Die Notiz schließen, ohne zu speichern</translation>
    </message>
    <message>
        <source>{action} ({keys})</source>
        <translation>{action} ({keys})</translation>
    </message>
</context>
<context>
    <name>Texts</name>
    <message>
        <source>in progress</source>
        <extracomment>Counted phrases of the command-line tools (English, as the tools are): key -&gt; (singular, plural). A number as people read it (numbers.display_number with the site&apos;s plan).</extracomment>
        <translation>läuft</translation>
    </message>
    <message>
        <source>answered</source>
        <translation>angenommen</translation>
    </message>
    <message>
        <source>missed</source>
        <translation>verpasst</translation>
    </message>
    <message>
        <source>answered elsewhere</source>
        <translation>anderswo angenommen</translation>
    </message>
    <message>
        <source>busy</source>
        <translation>besetzt</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>not answered</source>
        <translation>nicht angenommen</translation>
    </message>
    <message>
        <source>transferred</source>
        <translation>vermittelt</translation>
    </message>
    <message>
        <source>forwarded</source>
        <translation>umgeleitet</translation>
    </message>
    <message>
        <source>end unknown</source>
        <translation>Ende unbekannt</translation>
    </message>
    <message>
        <source>incoming</source>
        <extracomment>A call&apos;s direction as the history&apos;s column says it.</extracomment>
        <translation>eingehend</translation>
    </message>
    <message>
        <source>outgoing</source>
        <translation>ausgehend</translation>
    </message>
    <message>
        <source>internal</source>
        <translation>intern</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>unbekannt</translation>
    </message>
    <message>
        <source>outcome unknown</source>
        <translation>Ausgang unbekannt</translation>
    </message>
    <message>
        <source>answered at {device}</source>
        <translation>angenommen an {device}</translation>
    </message>
    <message>
        <source>answered by {device}</source>
        <translation>angenommen von {device}</translation>
    </message>
    <message>
        <source>transferred to {device}</source>
        <translation>vermittelt an {device}</translation>
    </message>
    <message>
        <source>forwarded to {device}</source>
        <translation>umgeleitet auf {device}</translation>
    </message>
    <message>
        <source>{outcome} (done)</source>
        <translation>{outcome} (erledigt)</translation>
    </message>
    <message>
        <source>withheld</source>
        <translation>unterdrückt</translation>
    </message>
    <message>
        <source>originated {device}</source>
        <extracomment>One step of a call&apos;s way in words, by the hop&apos;s kind; {device} is where it happened.</extracomment>
        <translation>gewählt von {device}</translation>
    </message>
    <message>
        <source>delivered {device}</source>
        <translation>klingelte bei {device}</translation>
    </message>
    <message>
        <source>offered {device}</source>
        <translation>angeboten an {device}</translation>
    </message>
    <message>
        <source>queued {device}</source>
        <translation>in der Warteschlange bei {device}</translation>
    </message>
    <message>
        <source>answered {device}</source>
        <translation>angenommen von {device}</translation>
    </message>
    <message>
        <source>held {device}</source>
        <translation>gehalten von {device}</translation>
    </message>
    <message>
        <source>retrieved {device}</source>
        <translation>zurückgeholt von {device}</translation>
    </message>
    <message>
        <source>transferred {device}</source>
        <translation>vermittelt von {device}</translation>
    </message>
    <message>
        <source>diverted {device}</source>
        <translation>umgeleitet von {device}</translation>
    </message>
    <message>
        <source>conferenced {device}</source>
        <translation>Konferenz bei {device}</translation>
    </message>
    <message>
        <source>cleared {device}</source>
        <translation>beendet bei {device}</translation>
    </message>
    <message>
        <source>failed {device}</source>
        <translation>fehlgeschlagen bei {device}</translation>
    </message>
    <message>
        <source>under way {device}</source>
        <translation>bereits im Gange bei {device}</translation>
    </message>
    <message>
        <source>undecodable {device}</source>
        <translation>unlesbares Ereignis bei {device}</translation>
    </message>
    <message>
        <source>link lost {device}</source>
        <translation>Verbindung unterbrochen {device}</translation>
    </message>
    <message>
        <source>consultation by {device}</source>
        <translation>Rückfrage von {device}</translation>
    </message>
    <message>
        <source>given up: no news for hours</source>
        <translation>nicht weiter verfolgt: seit Stunden keine Meldung</translation>
    </message>
    <message>
        <source>given up: too many calls at once</source>
        <translation>nicht weiter verfolgt: zu viele Gespräche gleichzeitig</translation>
    </message>
    <message>
        <source>transferred {device} to {target}</source>
        <extracomment>A step with the party it went to: {device} from, {target} to (for &quot;consultation&quot;: the other party of the call the consultation was made from).</extracomment>
        <translation>von {device} an {target} vermittelt</translation>
    </message>
    <message>
        <source>diverted {device} to {target}</source>
        <translation>von {device} auf {target} umgeleitet</translation>
    </message>
    <message>
        <source>consulted {target}</source>
        <translation>Rückfrage bei {target}</translation>
    </message>
    <message>
        <source>consultation by {device} during the call with {target}</source>
        <translation>Rückfrage von {device} während des Gesprächs mit {target}</translation>
    </message>
    <message>
        <source>No calls match.</source>
        <extracomment>What an empty history says, by the filter&apos;s kind of call: (nothing at all, none match the search &quot;{search}&quot;).</extracomment>
        <translation>Keine passenden Anrufe.</translation>
    </message>
    <message>
        <source>No calls match “{search}”.</source>
        <translation>Keine Anrufe passen zu „{search}“.</translation>
    </message>
    <message>
        <source>No missed calls.</source>
        <translation>Keine verpassten Anrufe.</translation>
    </message>
    <message>
        <source>No missed calls match “{search}”.</source>
        <translation>Keine verpassten Anrufe passen zu „{search}“.</translation>
    </message>
    <message>
        <source>No incoming calls.</source>
        <translation>Keine eingehenden Anrufe.</translation>
    </message>
    <message>
        <source>No incoming calls match “{search}”.</source>
        <translation>Keine eingehenden Anrufe passen zu „{search}“.</translation>
    </message>
    <message>
        <source>No outgoing calls.</source>
        <translation>Keine ausgehenden Anrufe.</translation>
    </message>
    <message>
        <source>No outgoing calls match “{search}”.</source>
        <translation>Keine ausgehenden Anrufe passen zu „{search}“.</translation>
    </message>
    <message>
        <source>No internal calls.</source>
        <translation>Keine internen Anrufe.</translation>
    </message>
    <message>
        <source>No internal calls match “{search}”.</source>
        <translation>Keine internen Anrufe passen zu „{search}“.</translation>
    </message>
    <message>
        <source>No calls with a phone note.</source>
        <translation>Keine Anrufe mit Telefonnotiz.</translation>
    </message>
    <message>
        <source>No calls with a phone note match “{search}”.</source>
        <translation>Keine Anrufe mit Telefonnotiz passen zu „{search}“.</translation>
    </message>
    <message>
        <source>No calls in the history yet.</source>
        <translation>Noch keine Anrufe in der Anrufliste.</translation>
    </message>
    <message>
        <source>Phone note for {who}</source>
        <translation>Telefonnotiz für {who}</translation>
    </message>
    <message>
        <source>Phone note</source>
        <translation>Telefonnotiz</translation>
    </message>
    <message>
        <source>{heading} · callback wanted</source>
        <translation>{heading} · Rückruf erwünscht</translation>
    </message>
    <message>
        <source>{who}, callback</source>
        <translation>{who}, Rückruf</translation>
    </message>
    <message>
        <source>callback wanted</source>
        <translation>Rückruf erwünscht</translation>
    </message>
    <message>
        <source>%Y-%m-%d</source>
        <translation>%d.%m.%Y</translation>
    </message>
    <message>
        <source>%H:%M</source>
        <translation>%H:%M</translation>
    </message>
    <message>
        <source>Phone note: {caller} – please call back</source>
        <translation>Telefonnotiz: {caller} – bitte zurückrufen</translation>
    </message>
    <message>
        <source>Phone note: {caller}</source>
        <translation>Telefonnotiz: {caller}</translation>
    </message>
    <message>
        <source>Hello {name},</source>
        <translation>Hallo {name},</translation>
    </message>
    <message>
        <source>Hello,</source>
        <translation>Hallo,</translation>
    </message>
    <message>
        <source>{caller} called on {date} at {time}.</source>
        <translation>{caller} hat am {date} um {time} Uhr angerufen.</translation>
    </message>
    <message>
        <source>Number: {number}</source>
        <translation>Nummer: {number}</translation>
    </message>
    <message>
        <source>Callback wanted: yes</source>
        <translation>Rückruf erwünscht: ja</translation>
    </message>
    <message>
        <source>Callback wanted: no</source>
        <translation>Rückruf erwünscht: nein</translation>
    </message>
    <message>
        <source>Phone note by {who}, {when}</source>
        <translation>Telefonnotiz von {who}, {when}</translation>
    </message>
    <message>
        <source>Phone note of {when}</source>
        <translation>Telefonnotiz vom {when}</translation>
    </message>
    <message>
        <source>the PBX address {host} is not known — check the PBX address in the settings</source>
        <translation>die Adresse {host} der Telefonanlage ist unbekannt – prüfen Sie die Adresse der Telefonanlage in den Einstellungen</translation>
    </message>
    <message>
        <source>the PBX address is not known — check the PBX address in the settings</source>
        <translation>die Adresse der Telefonanlage ist unbekannt – prüfen Sie sie in den Einstellungen</translation>
    </message>
    <message>
        <source>the PBX address {host} could not be looked up — is this computer connected to the network?</source>
        <translation>die Adresse {host} der Telefonanlage konnte nicht aufgelöst werden – ist dieser Computer mit dem Netzwerk verbunden?</translation>
    </message>
    <message>
        <source>the PBX address could not be looked up — is this computer connected to the network?</source>
        <translation>die Adresse der Telefonanlage konnte nicht aufgelöst werden – ist dieser Computer mit dem Netzwerk verbunden?</translation>
    </message>
    <message>
        <source>{pbx} does not accept connections on port {port} — check the port in the settings, and that CSTA is switched on at the PBX</source>
        <translation>{pbx} nimmt auf Port {port} keine Verbindungen an – prüfen Sie den Port in den Einstellungen und ob CSTA an der Telefonanlage eingeschaltet ist</translation>
    </message>
    <message>
        <source>{pbx} does not accept connections on its CSTA port — check the port in the settings, and that CSTA is switched on at the PBX</source>
        <translation>{pbx} nimmt auf ihrem CSTA-Port keine Verbindungen an – prüfen Sie den Port in den Einstellungen und ob CSTA an der Telefonanlage eingeschaltet ist</translation>
    </message>
    <message>
        <source>no answer from {pbx} within {seconds} — check that it is switched on and that the address in the settings is right</source>
        <translation>{pbx} antwortet nicht innerhalb von {seconds} – prüfen Sie, ob sie eingeschaltet und die Adresse in den Einstellungen richtig ist</translation>
    </message>
    <message>
        <source>no answer from {pbx} — check that it is switched on and that the address in the settings is right</source>
        <translation>{pbx} antwortet nicht – prüfen Sie, ob sie eingeschaltet und die Adresse in den Einstellungen richtig ist</translation>
    </message>
    <message>
        <source>{pbx} took the connection but did not answer the login — check that the port in the settings is the PBX&apos;s CSTA port</source>
        <translation>{pbx} hat die Verbindung angenommen, aber nicht auf die Anmeldung geantwortet – prüfen Sie, ob der Port in den Einstellungen der CSTA-Port der Telefonanlage ist</translation>
    </message>
    <message>
        <source>{pbx} cannot be reached from this computer — check the network connection</source>
        <translation>{pbx} ist von diesem Computer aus nicht erreichbar – prüfen Sie die Netzwerkverbindung</translation>
    </message>
    <message>
        <source>this computer is not connected to a network</source>
        <translation>dieser Computer ist mit keinem Netzwerk verbunden</translation>
    </message>
    <message>
        <source>the PBX at {host}</source>
        <translation>die Telefonanlage unter {host}</translation>
    </message>
    <message>
        <source>the PBX</source>
        <translation>die Telefonanlage</translation>
    </message>
    <message>
        <source>the broker {broker} refused the login of {user} — check the broker user name and password in the settings</source>
        <translation>der Broker {broker} hat die Anmeldung von {user} abgelehnt – prüfen Sie Benutzername und Passwort für den Broker in den Einstellungen</translation>
    </message>
    <message>
        <source>the broker {broker} refused the login of this computer (no user name set) — check the broker user name and password in the settings</source>
        <translation>der Broker {broker} hat die Anmeldung dieses Computers abgelehnt (kein Benutzername festgelegt) – prüfen Sie Benutzername und Passwort für den Broker in den Einstellungen</translation>
    </message>
    <message>
        <source>the office&apos;s broker {broker} cannot be reached — check the broker address in the settings, and that this computer is on the office network</source>
        <translation>der Broker {broker} des Büros ist nicht erreichbar – prüfen Sie die Broker-Adresse in den Einstellungen und ob dieser Computer mit dem Büronetzwerk verbunden ist</translation>
    </message>
    <message>
        <source>no office gateway answers for site “{site}” at the broker — check that it runs, and that the site in the settings is the gateway&apos;s</source>
        <translation>kein Büro-Gateway antwortet für den Standort „{site}“ am Broker – prüfen Sie, ob es läuft und ob der Standort in den Einstellungen der des Gateways ist</translation>
    </message>
    <message>
        <source>the office gateway was stopped: no calls are shown until it runs again</source>
        <translation>das Büro-Gateway wurde beendet: Bis es wieder läuft, werden keine Anrufe angezeigt</translation>
    </message>
    <message>
        <source>the office gateway is gone: it lost its connection to the broker (stopped, crashed or cut off)</source>
        <translation>das Büro-Gateway ist nicht mehr erreichbar: Es hat seine Verbindung zum Broker verloren (beendet, abgestürzt oder getrennt)</translation>
    </message>
    <message>
        <source>PBX down behind the office gateway: the gateway runs, but its link to the PBX is down</source>
        <translation>Telefonanlage hinter dem Büro-Gateway nicht erreichbar: Das Gateway läuft, aber seine Verbindung zur Telefonanlage ist unterbrochen</translation>
    </message>
    <message>
        <source>Details: {detail}</source>
        <translation>Details: {detail}</translation>
    </message>
    <message>
        <source>logging in to the broker without a password because none is stored</source>
        <translation>Anmeldung beim Broker ohne Passwort, weil keines gespeichert ist</translation>
    </message>
    <message>
        <source>using the HiPath factory password {password} because none is stored</source>
        <translation>es wird das HiPath-Werkspasswort {password} verwendet, weil keines gespeichert ist</translation>
    </message>
    <message>
        <source>{waiting}; {lost}</source>
        <translation>{waiting}; {lost}</translation>
    </message>
    <message>
        <source>the history cannot be written</source>
        <translation>die Anrufliste kann nicht geschrieben werden</translation>
    </message>
    <message>
        <source>Calls are not being saved: {reason} ({extra}).</source>
        <translation>Anrufe werden nicht gespeichert: {reason} ({extra}).</translation>
    </message>
    <message>
        <source>Calls are being saved, but {not_kept} while the history could not be written.</source>
        <translation>Anrufe werden gespeichert, aber {not_kept}, solange die Anrufliste nicht geschrieben werden konnte.</translation>
    </message>
    <message>
        <source>Calls are being saved again ({lost} meanwhile).</source>
        <translation>Anrufe werden wieder gespeichert ({lost} in der Zwischenzeit).</translation>
    </message>
    <message>
        <source>Calls are being saved again.</source>
        <translation>Anrufe werden wieder gespeichert.</translation>
    </message>
    <message>
        <source>deleted</source>
        <extracomment>What happened to the history file under a recording program (`HistoryStore.file_problem`).</extracomment>
        <translation>gelöscht</translation>
    </message>
    <message>
        <source>replaced</source>
        <translation>ersetzt</translation>
    </message>
    <message>
        <source>The call history file {path} was {problem} while calls were being recorded; a new one was started there (calls recorded before are not in it).</source>
        <translation>Die Datei der Anrufliste {path} wurde {problem}, während Anrufe aufgezeichnet wurden; dort wurde eine neue angelegt (zuvor aufgezeichnete Anrufe sind nicht darin).</translation>
    </message>
    <message>
        <source>the history file was {problem} and cannot be created again: {reason}</source>
        <translation>die Datei der Anrufliste wurde {problem} und kann nicht neu angelegt werden: {reason}</translation>
    </message>
    <message>
        <source>Calls are kept only until cstapopup ends: the call history cannot be used ({problem}).</source>
        <translation>Anrufe bleiben nur erhalten, bis cstapopup beendet wird: die Anrufliste kann nicht verwendet werden ({problem}).</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>connected</source>
        <extracomment>Colleagues listed in the tray menu at most (the console lists them all). What the tooltip and the menu&apos;s status line say when the caller gives no reason.</extracomment>
        <translation>verbunden</translation>
    </message>
    <message>
        <source>connecting…</source>
        <translation>Verbindung wird aufgebaut…</translation>
    </message>
    <message>
        <source>not connected</source>
        <translation>nicht verbunden</translation>
    </message>
    <message>
        <source>demo mode (simulated PBX)</source>
        <translation>Demo-Modus (simulierte Telefonanlage)</translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation>&amp;Anrufliste</translation>
    </message>
    <message>
        <source>C&amp;onsole (colleagues, put through)</source>
        <translation>&amp;Vermittlungsplatz (Kollegen, vermitteln)</translation>
    </message>
    <message>
        <source>Co&amp;lleagues</source>
        <translation>&amp;Kollegen</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <extracomment>Paints a colleague&apos;s lamp (set by the app: the console&apos;s lamp_icon).</extracomment>
        <translation>&amp;Einstellungen…</translation>
    </message>
    <message>
        <source>&amp;Do not disturb</source>
        <translation>&amp;Nicht stören</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>Do not disturb: no popups</source>
        <translation>Nicht stören: keine Anruffenster</translation>
    </message>
</context>
<context>
    <name>Views</name>
    <message>
        <source>Link to the PBX lost: the end of this call is not known</source>
        <extracomment>Put the call through to a colleague (chosen in the console): while it rings at a monitored device (deflect), or while the user&apos;s own phone has it (transfer). Write a phone note about the call: once it was answered, or ended (missed too). The number formatted for reading (&quot;089 1234567&quot;); &quot;&quot; when withheld or not known. The name, else the number, else &quot;Withheld number&quot; / &quot;Unknown number&quot;. The caller&apos;s name (the avatar&apos;s initials), None when the phone book does not know it. The number under a name (&quot;&quot; when the title is the number, or there is none). &quot;Ringing at 100 · line 0891234567&quot; / &quot;Rang at 100&quot;. Why it rings here: &quot;Forwarded from 101 · Transferred by 102&quot; (&quot;&quot; for a direct call). The trunk an outside call came in on (None: internal, or not said). The device that answered (ours or another), None while nobody has. &quot;Ringing&quot;, &quot;Answered at 100&quot;, &quot;Answered by 102 · ended (2:31)&quot;, &quot;Missed&quot;, ... The colour family: &quot;ringing&quot;, &quot;answered&quot;, &quot;ended&quot; or &quot;missed&quot;. The device the popup is about (where it rings or rang). The number as it is dialled (&quot;+49891234567&quot;), &quot;&quot; when there is none. The CRM address with number and name filled in, &quot;&quot; when there is none. Seconds until the popup closes by itself (counted from when it first says so); None: it stays (ringing, or the user&apos;s own phone has the call, or closing is turned off). &quot;Anna Schmidt is ringing&quot;, &quot;On a call with Anna Schmidt&quot;, &quot;Consulting Tom Keller (102)&quot; &quot;Anna Schmidt waits on hold&quot; / &quot;&quot; . The name given in the settings or found in the phone book; &quot;&quot; when none. &quot;Free&quot;, &quot;Ringing&quot;, &quot;On a call&quot;, &quot;On hold&quot;, &quot;Do not disturb&quot;, &quot;Forwarded to 105&quot;, &quot;Not monitored&quot;, &quot;Not known&quot;. Who they talk to (or who calls them): a name, a number, &quot;Withheld number&quot;; &quot;&quot;. The colour family of the lamp: free, ringing, busy, held, away, off. One or two sentences for a tooltip (with why it is not monitored, DND, forwarding). A call rings there that the user could pick up. It is the user&apos;s own phone. What the type-ahead filter matches: name, number and party, lower case. A number from the PBX as people read it (`Desk.display_number`).</extracomment>
        <translation>Verbindung zur Telefonanlage unterbrochen: Das Ende dieses Anrufs ist nicht bekannt</translation>
    </message>
    <message>
        <source>Answered</source>
        <translation>Angenommen</translation>
    </message>
    <message>
        <source>Answered at {device}</source>
        <translation>Angenommen an {device}</translation>
    </message>
    <message>
        <source>Answered by {device}</source>
        <translation>Angenommen von {device}</translation>
    </message>
    <message>
        <source>Transferred to {device}</source>
        <translation>Vermittelt an {device}</translation>
    </message>
    <message>
        <source>Forwarded to {device}</source>
        <translation>Umgeleitet auf {device}</translation>
    </message>
    <message>
        <source>Forwarded</source>
        <translation>Umgeleitet</translation>
    </message>
    <message>
        <source>Missed</source>
        <translation>Verpasst</translation>
    </message>
    <message>
        <source>Busy</source>
        <translation>Besetzt</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>{answered} · ended ({duration})</source>
        <translation>{answered} · beendet ({duration})</translation>
    </message>
    <message>
        <source>Ended ({duration})</source>
        <translation>Beendet ({duration})</translation>
    </message>
    <message>
        <source>Ended</source>
        <translation>Beendet</translation>
    </message>
    <message>
        <source>Ringing</source>
        <translation>Klingelt</translation>
    </message>
    <message>
        <source>Withheld number</source>
        <extracomment>Suggestions the &quot;for whom&quot; field offers at most. &quot;colleague&quot; (the console&apos;s panel) or &quot;phonebook&quot;. Who writes it (the desk&apos;s phone: &quot;Reception (100)&quot;), None when not known.</extracomment>
        <translation>Rufnummer unterdrückt</translation>
    </message>
    <message>
        <source>Unknown number</source>
        <translation>Rufnummer unbekannt</translation>
    </message>
    <message>
        <source>Ringing at {device}</source>
        <translation>Klingelt bei {device}</translation>
    </message>
    <message>
        <source>Rang at {device}</source>
        <translation>Klingelte bei {device}</translation>
    </message>
    <message>
        <source>{where} · line {number}</source>
        <translation>{where} · Leitung {number}</translation>
    </message>
    <message>
        <source>Forwarded from {device}</source>
        <translation>Umgeleitet von {device}</translation>
    </message>
    <message>
        <source>Transferred by {device}</source>
        <translation>Vermittelt von {device}</translation>
    </message>
    <message>
        <source>No news from the PBX for {minutes}</source>
        <translation>Seit {minutes} keine Nachricht von der Telefonanlage</translation>
    </message>
    <message>
        <source>No news from the PBX</source>
        <translation>Keine Nachricht von der Telefonanlage</translation>
    </message>
    <message>
        <source>Free</source>
        <translation>Frei</translation>
    </message>
    <message>
        <source>On a call</source>
        <translation>Im Gespräch</translation>
    </message>
    <message>
        <source>On hold</source>
        <translation>Gehalten</translation>
    </message>
    <message>
        <source>Do not disturb</source>
        <translation>Nicht stören</translation>
    </message>
    <message>
        <source>Not monitored</source>
        <translation>Nicht überwacht</translation>
    </message>
    <message>
        <source>Not known</source>
        <translation>Unbekannt</translation>
    </message>
    <message>
        <source>{who}: free.</source>
        <extracomment>The tooltip&apos;s first sentence for the states that need no one to talk to ({who}: the name, else the number).</extracomment>
        <translation>{who}: frei.</translation>
    </message>
    <message>
        <source>{who}: do not disturb.</source>
        <translation>{who}: Nicht stören.</translation>
    </message>
    <message>
        <source>{who}: forwarded.</source>
        <translation>{who}: umgeleitet.</translation>
    </message>
    <message>
        <source>{who} is on a call with {party}.</source>
        <translation>{who} telefoniert mit {party}.</translation>
    </message>
    <message>
        <source>{who} is on a call.</source>
        <translation>{who} telefoniert.</translation>
    </message>
    <message>
        <source>A call rings at {who}: {party}.</source>
        <translation>Bei {who} klingelt ein Anruf: {party}.</translation>
    </message>
    <message>
        <source>A call rings at {who}.</source>
        <translation>Bei {who} klingelt ein Anruf.</translation>
    </message>
    <message>
        <source>{who} holds a call with {party}.</source>
        <translation>{who} hält ein Gespräch mit {party}.</translation>
    </message>
    <message>
        <source>{who} holds a call.</source>
        <translation>{who} hält ein Gespräch.</translation>
    </message>
    <message>
        <source>{state}: {why}.</source>
        <translation>{state}: {why}.</translation>
    </message>
    <message>
        <source>{state}.</source>
        <translation>{state}.</translation>
    </message>
    <message>
        <source>{who}: forwarded to {device}.</source>
        <translation>{who}: umgeleitet auf {device}.</translation>
    </message>
    <message>
        <source>Another call rings there.</source>
        <translation>Dort klingelt ein weiterer Anruf.</translation>
    </message>
    <message>
        <source>Do not disturb is on.</source>
        <translation>„Nicht stören“ ist eingeschaltet.</translation>
    </message>
    <message>
        <source>Forwarded to {device}.</source>
        <translation>Umgeleitet auf {device}.</translation>
    </message>
</context>
</TS>
