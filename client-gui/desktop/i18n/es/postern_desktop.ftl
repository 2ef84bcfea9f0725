# Ventana de escritorio de Postern: español neutro, tratando al usuario de «tú».
# Cada id de en/postern_desktop.ftl debe estar aquí con las mismas variables
# (lo comprueba la prueba `i18n::tests::every_language_has_every_message`).

## Idiomas (Ajustes)

language-system = El idioma del sistema

## Barra superior, pantalla vacía, soltar un archivo

drop-to-import = Suelta el archivo de perfil para importarlo
top-settings = Ajustes
top-settings-hover = Paquetes señuelo, tipo de dirección, tema, idioma, dónde se guardan los archivos
top-add-host = Añadir servidor…
top-add-host-hover = Escribe los datos de un servidor a mano ({ $shortcut })
top-import = Importar perfil…
top-import-hover = Abre un archivo .postern de tu administrador ({ $shortcut }) o suéltalo sobre la ventana
banner-dismiss = Cerrar aviso
banner-undo = Deshacer
empty-title = Todavía no hay servidores
empty-intro = Postern abre una puerta oculta en un servidor (para Escritorio remoto, SSH o una página web) llamando a ella de la forma correcta. Puedes añadir un servidor de dos maneras:
empty-import = Importar un archivo de perfil…
empty-import-help = Abre el archivo .postern que te envió tu administrador o suéltalo sobre esta ventana.
empty-add = Añadir servidor a mano…
empty-add-help = Escribe la dirección y la secuencia de llamada o la clave que te dieron.

## Tarjeta de cada servidor

card-cancel = Cancelar
card-cancel-name = Cancelar llamada { $host }
card-connect = Conectar
card-connect-name = Conectar { $host }
card-connect-hover-open = La puerta está abierta: abrir { $program }
card-connect-hover-closed = Abrir la puerta, comprobar que se abrió y después abrir { $program }
card-open = Abrir
card-open-name = Abrir { $host }
card-open-hover = Abrir la puerta y comprobar que se abrió
card-more = Más…
card-more-name = Más opciones de { $host }
card-knock-only = Solo abrir la puerta
card-knock-only-name = Solo llamar { $host }
card-knock-only-hover = Llamar y comprobar, sin abrir ningún programa
card-edit = Editar…
card-edit-name = Editar { $host }
card-remove = Quitar…
card-remove-name = Quitar { $host }
card-keep-open = Mantener la puerta abierta mientras estés conectado
card-keep-open-name = Mantener abierta mientras estés conectado { $host }
card-keep-open-hover = Vuelve a llamar poco antes de que la puerta se cierre, mientras siga abierto el programa que inició Conectar (para sesiones de Escritorio remoto que se reconectan)
card-keeping-open = Manteniendo la puerta abierta mientras dura tu conexión
details = Detalles
details-server = Servidor: { $host }
details-ports = Puertos: { $ports }, abiertos durante { $duration } después de cada llamada
details-knock = Llamada: { $method }
details-opens-for-any = Se abre para: la dirección que llame
details-signed = De tu administrador (clave { $fingerprint })
details-unsigned = Añadido a mano o desde un archivo sin firmar
details-last = Último resultado: { $result } ({ $ago })
method-spa = un único paquete cifrado (SPA)
method-static-sequence = una secuencia fija de puertos
method-dynamic-sequence = una secuencia que cambia cada minuto
method-syn-token = un intento de conexión con una marca oculta
method-syn-token-keyed = un intento de conexión con una marca oculta con clave

## Registro de actividad

activity = Actividad
activity-empty = Todavía no hay llamadas.
activity-copy = Copiar registro
activity-copy-hover = Copia todo el registro, por ejemplo para enviárselo a tu administrador

## Progreso de la llamada

phase-starting = Empezando…
phase-checking-before = Comprobando el puerto antes de llamar…
phase-sending = Enviando el paquete { $sent } de { $total }
phase-verifying = Comprobando que el puerto se abrió…
phase-checking-clock = Sigue cerrado; comprobando la hora de este equipo…
phase-reknocking = Sigue cerrado; llamando otra vez…

## Tiempos y duraciones

ago-now = ahora mismo
ago-minutes = hace { $n } min
ago-hours = hace { $n } h
ago-days = { $n ->
        [one] hace { $n } día
       *[other] hace { $n } días
    }
# Cuánto se desvía la hora de este equipo: "10 minutos atrasada".
clock-off = { $unit ->
        [seconds] { $n ->
            [one] { $n } segundo
           *[other] { $n } segundos
        }
        [minutes] { $n ->
            [one] { $n } minuto
           *[other] { $n } minutos
        }
        [hours] { $n ->
            [one] { $n } hora
           *[other] { $n } horas
        }
       *[days] { $n ->
            [one] { $n } día
           *[other] { $n } días
        }
    } { $way ->
        [ahead] adelantada
       *[behind] atrasada
    }
duration-s = { $s } s
duration-min = { $min } min
duration-min-s = { $min } min { $s } s
duration-h = { $h } h
duration-h-min = { $h } h { $min } min

## Lo que dice la tarjeta sobre la puerta

status-closed = Cerrado
status-open-for = Abierto para ti durante { $duration }: conéctate ya
status-closed-again = Cerrado de nuevo
status-answered-before = El servidor ya respondía antes de la llamada
status-sent = Llamada enviada
status-did-not-open = El servidor no se abrió
status-clock-wrong = La hora de tu equipo va { $clock }
status-offline = Parece que este equipo no tiene conexión
status-name-not-found = No se encontró el nombre del servidor
status-own-address-unknown = No se pudo averiguar la dirección de internet de este equipo
status-needs-permission = Tu equipo no dejó que Postern enviara la llamada
status-profile-problem = Los ajustes de este servidor no se pueden usar tal como están
status-other = La llamada no funcionó
status-cancelled = Cancelada
hint-closed-again = Las conexiones que abriste siguen activas; ábrelo otra vez para empezar una nueva.
hint-answered-before = Puede que siga abierto desde tu última llamada. Si no, el puerto no está protegido o un proxy de tu red responde por todos los servidores: si no logras conectarte, prueba con otra red.
hint-sent = Este servidor no tiene ningún puerto que Postern pueda comprobar; prueba a conectarte.
hint-did-not-open = Comprueba que tienes conexión y que la hora de este equipo es correcta, y vuelve a intentarlo. Si sigue sin abrirse, pregunta a tu administrador.
hint-did-not-open-clock-right = La hora de tu equipo es correcta. Comprueba que tienes conexión y vuelve a intentarlo. Si sigue sin abrirse, pregunta a tu administrador: puede que tu perfil esté desactualizado.
hint-clock-wrong = El servidor rechaza las llamadas de un reloj tan desviado. Pon la fecha y la hora correctas en este equipo (activar la hora automática lo arregla para siempre) y vuelve a intentarlo.
hint-offline = Comprueba tu conexión a la red y vuelve a intentarlo.
hint-name-not-found = Comprueba que tienes conexión. Si vuelve a pasar, pregunta a tu administrador.
hint-own-address-unknown = Comprueba que tienes conexión o prueba con otra red. Si vuelve a pasar, pregunta a tu administrador.
hint-needs-permission = Abre Postern como administrador o pide a tu administrador un perfil que no necesite permisos especiales.
hint-profile-problem = Pide a tu administrador un archivo de perfil nuevo.
hint-other = Vuelve a intentarlo. Si vuelve a pasar, copia el registro de actividad y envíaselo a tu administrador.

## Resultados en el registro

outcome-open = Abierto tras { $ms } ms{ $reknocked ->
        [yes] {" "}(tras una segunda llamada)
       *[no] {""}
    }{ $address ->
        [none] {""}
       *[other] {" "}para { $address }
    }
outcome-still-closed = Sigue cerrado{ $reknocked ->
        [yes] , incluso tras una segunda llamada
       *[no] {""}
    }. Comprueba que la hora de este equipo es correcta y que el perfil está al día; después vuelve a llamar o pregunta a tu administrador
outcome-still-closed-clock-wrong = Sigue cerrado{ $reknocked ->
        [yes] , incluso tras una segunda llamada
       *[no] {""}
    }. La hora de este equipo va { $clock }: pon la hora correcta y vuelve a llamar
outcome-answered-before = Se llamó, pero el puerto ya respondía antes de la llamada, así que no se sabe si la llamada funcionó. Puede que siga abierto desde tu última llamada, que el puerto no esté protegido o que un proxy de tu red responda a todas las conexiones; si no logras conectarte, prueba con otra red
outcome-sent = { $packets ->
        [one] Se envió { $packets } paquete
       *[other] Se enviaron { $packets } paquetes
    }{ $address ->
        [none] {""}
       *[other] {" "}para { $address }
    }; este servidor no tiene ningún puerto TCP que comprobar
outcome-failed = Error: { $message }
outcome-cancelled = Cancelada

## Ajustes

settings-title = Ajustes
settings-decoys = Paquetes señuelo por llamada
settings-decoys-hint = vacío: lo que diga cada perfil
settings-decoys-problem = un número del 0 al 64, o vacío para usar el de cada perfil
settings-decoys-help = Los señuelos son paquetes al azar que esconden la llamada real a quien esté mirando.
settings-ip = Tipo de dirección
ip-profile = Lo que diga el perfil
ip-v4 = Solo IPv4
ip-v6 = Solo IPv6
ip-both = IPv4 e IPv6
settings-allow = Dirección a la que el servidor debe dejar pasar (solo servidores de un único paquete)
allow-profile = Lo que diga el perfil
allow-source = La dirección desde la que llamo
allow-explicit = Una dirección fija
allow-url = Preguntar a un servicio web (detrás de NAT)
allow-explicit-problem = escribe una dirección IPv4 o IPv6, por ejemplo 203.0.113.7
allow-url-problem = el servicio debe ser una dirección https://
settings-fixed-address = Dirección fija
settings-address-service = Servicio de dirección
settings-stun = Servidores STUN
settings-check-clock = Comprobar la hora de este equipo cuando un servidor no se abre
settings-check-clock-help = Pregunta a un servidor de hora público (time.cloudflare.com, pool.ntp.org), solo después de una llamada fallida, para poder decir si el motivo es una hora incorrecta.
settings-stun-help = Le dicen a este equipo su dirección pública cuando está detrás del router de casa o de la oficina, para los servidores cuyo perfil no indica ninguno. Separa varios con comas.
stun-not-host-port = «{ $entry }» no tiene la forma SERVIDOR:PUERTO (por ejemplo stun.example.org:3478)
stun-too-many = { $max ->
        [one] como máximo { $max } servidor
       *[other] como máximo { $max } servidores
    }
settings-theme = Tema
theme-system = Igual que el sistema
theme-light = Claro
theme-dark = Oscuro
settings-language = Idioma
settings-where = Dónde se guardan las cosas
settings-hosts-dir = Servidores y ajustes: { $dir }
settings-keys = Claves: { $store }
settings-keys-unavailable = no disponible: { $error }
settings-keys-no-keyring = { $store } (ningún llavero del sistema funciona en este equipo)
settings-bad-decoys = Paquetes señuelo: { $problem }
settings-bad-allow = Dirección permitida: { $problem }
settings-bad-stun = Servidores STUN: { $problem }
settings-not-saved = No se guardaron los ajustes: { $error }
settings-saved = Ajustes guardados

## Botones de los diálogos

button-save = Guardar
button-cancel = Cancelar
button-close = Cerrar

## Quitar

remove-title = ¿Quitar { $host }?
remove-body = Se borran de este equipo sus ajustes guardados y su clave. Puedes deshacerlo hasta que cierres Postern.
remove-confirm = Quitar
remove-keep = Conservar

## Formulario de servidor

form-edit-title = Editar servidor
form-add-title = Añadir servidor a mano
form-name = Nombre
form-name-hint = PC de la oficina
form-address = Dirección del servidor
form-address-hint = oficina.example.com o 203.0.113.7
form-how = Cómo llamar
form-method-sequence = Secuencia de llamada (knockd)
form-method-spa = Un único paquete (SPA) con clave
form-method-fwknop = fwknop (servidor fwknopd)
form-fwknop-hmac-key = Clave HMAC
form-fwknop-user = Nombre de usuario (fwknop -U)
form-fwknop-keep = {" "}(deja las dos vacías para conservar las claves guardadas)
form-fwknop-key-hint = tal como la mostró fwknop --key-gen
form-fwknop-sha512 = HMAC_DIGEST_TYPE es SHA512 (no SHA256)
form-fwknop-port = Puerto de fwknopd
form-fwknop-key-missing = pega KEY_BASE64 (la muestra fwknop --key-gen)
form-fwknop-hmac-missing = pega HMAC_KEY_BASE64 (la muestra fwknop --key-gen)
form-fwknop-keys-bad = { $error }; pega las líneas que mostró fwknop --key-gen
method-fwknop = un paquete fwknop (para un servidor fwknopd)
form-sequence = Secuencia de llamada
form-delay = Pausa entre llamadas (ms)
form-spa-user = Nombre de usuario
form-key-keep = Clave (déjala vacía para conservar la guardada)
form-key-paste = Clave (pégala)
form-key-hint = 44 caracteres que te da tu administrador
form-key = Clave
form-spa-port = Puerto SPA
form-server-id = Id. del servidor
form-server-id-hint = 32 dígitos hexadecimales
form-door-port = Puerto que abrir
form-door-port-hint = 3389 para Escritorio remoto, 22 para SSH
form-door-udp = El puerto es UDP (no TCP)
form-then-start = Cuando se abra el puerto, abrir
form-connect-user = Usuario con el que conectarse (opcional)
form-web-address = Dirección web
form-missing = Para guardar, rellena: { $fields }
connect-nothing = Nada (solo abrir el puerto)
connect-rdp = Escritorio remoto (RDP)
connect-ssh = Terminal SSH
connect-url = Página web (URL)
error-port-range = un puerto es un número del 1 al 65535
error-port-empty = escribe un número de puerto, por ejemplo 22
error-port-digits = un puerto es un número del 1 al 65535 (solo cifras)
error-address-empty = escribe el nombre o la dirección del servidor, por ejemplo oficina.example.com
error-host-too-long = un nombre de servidor tiene como máximo 253 caracteres
error-host-label-length = un nombre de servidor son partes de 1 a 63 caracteres separadas por puntos
error-host-hyphen = una parte de un nombre de servidor no puede empezar ni terminar con «-»
error-host-chars = usa letras, cifras, «-» y «.» (o una dirección IP como 192.0.2.10)
error-user = de 1 a 64 letras, cifras, «.», «_» o «-»
error-name-empty = ponle un nombre al servidor, por ejemplo PC de la oficina
error-name-long = como máximo 80 caracteres
error-name-alnum = el nombre necesita al menos una letra o una cifra
error-sequence = { $problem }; escríbela así: 7000,8000:udp,9000
error-delay = una pausa de 0 a 10000 milisegundos
error-server-id = el id. del servidor son 32 dígitos hexadecimales (lo tiene tu administrador)
error-key-empty = pega la clave que te dio tu administrador
error-key-bad = esto no es una clave: se esperan 44 caracteres en base64
error-url = una dirección web empieza por https:// o http://
error-connect-user = un nombre de usuario lleva letras, cifras, «.», «_» o «-»
error-form = hay campos que corregir (mira los mensajes debajo de ellos)

## Importar

import-file-title = Importar un perfil de Postern
import-file-filter = Perfil de Postern
import-file-all = Todos los archivos
import-encrypted-title = Perfil cifrado
import-encrypted-body = { $file } está protegido con una frase de contraseña. Tu administrador te la da aparte del archivo (por teléfono o en persona); suele ser unas cuantas palabras separadas por espacios.
import-encrypted-after = Cuando se abra, comprobarás quién lo firmó antes de guardar nada.
import-passphrase = Frase de contraseña
import-show-passphrase = Mostrar la frase de contraseña
import-button = Importar
import-trust-title = ¿Confías en este administrador?
import-passphrase-right = La frase de contraseña es correcta. Una comprobación más antes de importar:
import-trust-body = «{ $profile }» está firmado con una clave de administrador que este equipo no ha visto antes. Su huella es:
import-trust-compare = Compárala con la huella que te dio tu administrador (por teléfono o en persona). Confía en ella solo si coinciden. Los próximos perfiles de este servidor tendrán que estar firmados con la misma clave.
import-trust-server = Servidor { $server }
import-trust-yes = Confiar e importar
import-no = No importar
import-unsigned-title = Este perfil no está firmado
import-unsigned-body = Cualquiera podría haber escrito «{ $profile }». Impórtalo solo si sabes exactamente de dónde viene.
import-anyway = Importar de todos modos
import-refused-title = Perfil rechazado
import-refused-source = { $file }:
import-nothing-changed = No se cambió nada.
import-too-large = { $file } es demasiado grande para ser un perfil ({ $bytes } bytes); no se cambió nada
import-cannot-read = no se puede leer { $path }: { $error }
import-not-text = { $file } no es un perfil (no es un archivo de texto); no se cambió nada
import-lost-question = error interno: se perdió la pregunta
import-no-secret-store = no hay almacén de claves
import-not-signed = sin firmar
import-signed-by = firmado por { $fingerprint }
import-done = Se importó { $name } ({ $who })
import-up-to-date = { $name } ya está al día ({ $who }); no se cambió nada
import-updated = Se actualizó { $name } ({ $who }): { $changes }
import-wrong-passphrase = La frase de contraseña no es correcta (o el archivo se modificó); no se guardó nada. Vuelve a intentarlo.
import-unsigned-for-signed = Rechazado: este perfil no está firmado, pero los perfiles de este servidor los firma tu administrador. Podría ser falso. No se cambió nada.
import-refused = Rechazado: { $reason }
import-not-trusted = No se importó: no confiaste en quien lo firmó. No se cambió nada.

## Avisos

banner-log-not-saved = no se pudo guardar el registro de actividad: { $error }
knock-key-missing = la clave de este servidor no está en el llavero; vuelve a importar su perfil (o edita el servidor y pega la clave)
knock-cannot-start = no se pudo empezar la llamada: { $error }
connect-no-program = { $host } no tiene ningún programa que abrir: el puerto está abierto, conéctate con tu programa de siempre
connect-failed = No se pudo conectar con { $host }: { $error }
host-exists = Ya hay un servidor llamado «{ $name }»; elige otro nombre
key-not-saved = No se pudo guardar la clave: { $error }
host-saved = Se guardó { $name }
remove-key-unreadable = No se quitó: no se pudo leer antes su clave: { $error }
remove-key-stayed = Se quitó { $name }, pero su clave sigue en el llavero: { $error }
removed = Se quitó { $name }.
undo-key-failed = No se pudo recuperar la clave de { $name }: { $error }
undo-failed = No se pudo recuperar { $name }: { $error }
undo-done = { $name } ha vuelto.

## Abrir un programa

program-rdp = Escritorio remoto
program-ssh = SSH
program-url = la página web
launch-started = Se abrió { $program }
launch-not-available = aquí no se puede conectar
launch-bad-url = no se abrirá «{ $url }»: solo direcciones http:// y https:// sencillas
launch-no-browser = no se encontró ningún programa para abrir páginas web (xdg-open). Abre { $url } en tu navegador
launch-bad-chars = el servidor o el nombre de usuario tienen caracteres que una conexión no puede usar
launch-no-rdp = no se encontró ningún programa de Escritorio remoto. Instala Remmina o FreeRDP (por ejemplo `sudo apt install remmina`) y conéctate a { $target }
launch-no-terminal = no se encontró ningún programa de terminal. Abre una terminal y ejecuta: ssh -p { $port } { $dest }
launch-cannot-start = no se pudo abrir { $program }: { $error }
window-error = no se puede abrir la ventana: { $error }
list-and = { $first } y { $second }
