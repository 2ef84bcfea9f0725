# Los mensajes de la línea de órdenes `postern` en español (tuteo, como
# la ventana). Los nombres llegan ya entre comillas ("Oficina"). Lo que
# la biblioteca añade tras estas palabras (sus mensajes de error, el
# nombre de un método, una puerta como 22/tcp) queda en inglés.

## Errores: `postern: qué salió mal[. qué hacer]`

error-line = postern: { $error }
error-line-hint = postern: { $error }. { $hint }

## Qué hacer ante un error (src/wording.rs)

hint-unknown-signer = Compara la huella con tu administrador y vuelve a importarlo en un terminal para confirmarlo, o añade --yes
hint-unsigned = Impórtalo con --yes solo si sabes de dónde viene
hint-name-taken = `postern remove { $name }` lo borra
hint-drop-strict = O quita --strict
hint-passphrase = Da su frase de contraseña con --passphrase-file ARCHIVO, o ejecuta postern en un terminal para que te la pida
hint-list = `postern list` muestra los servidores guardados
warning-secrets-in-file = postern: AVISO: { $fallback }. Usa --strict para no permitirlo.

## Archivos y frases de contraseña

cannot-read = no se puede leer { $path }
cannot-read-passphrase-file = no se puede leer el archivo de la frase de contraseña { $path }
passphrase-prompt = Frase de contraseña de { $what }:{" "}
reading-passphrase = al leer la frase de contraseña del terminal
encrypted = { $what } está cifrado. { hint-passphrase }

## postern list

list-empty = no hay servidores guardados; añade uno con `postern import ARCHIVO`
list-unsigned = sin firmar
list-signed = firmado { $fingerprint }
list-opens-for-this-computer = abre para la dirección de este equipo
list-opens-for-any = abre para cualquier dirección que llame

## postern import: confiar en quien firma

trust-new-signer =
    postern: { $name } está firmado con una clave de administrador que este equipo no ha visto antes:

    {"    "}{ $fingerprint }

    Compara esta huella con la que te dio tu administrador.
trust-unsigned = postern: { $name } NO está firmado: cualquiera podría haberlo escrito.
trust-yes = postern: confías en él (--yes)
# Confirman (en el código): sí, si, s, y también yes, y.
trust-prompt = ¿Confías en él para el servidor { $server }? Escribe sí para confirmar:{" "}

## postern import, remove, import-knockd-door, import-fwknoprc

import-failed = no se puede importar { $file }
import-unsigned = sin firmar
import-signed-by = firmado por { $fingerprint }
import-done = importado { $name } ({ $signer })
import-up-to-date = { $name } ya está al día ({ $signer }); no cambia nada
import-updated = actualizado { $name } ({ $signer }): { $changes }
import-key-kept = su clave se guarda en { $store }
remove-not-found = no hay ningún servidor guardado llamado { $name }; { hint-list }
removed = borrado { $name }
knockd-saved = guardado { $name }: llama a { $sequence } en { $host } para abrir { $door }
fwknoprc-nothing-saved-from = { $file }: no se guardó nada
fwknoprc-nothing-saved = no se guardó nada
fwknoprc-saved = guardado { $name }: fwknop a { $host } para { $doors } ({ $allow })
fwknoprc-skipped = omitido [{ $stanza }]: { $why }
fwknoprc-not-carried = [{ $stanza }]: { $option } no se trae
allow-source = deja entrar el origen del paquete
allow-explicit = deja entrar { $address }
allow-url = deja entrar la dirección que indica { $url }
allow-auto = deja entrar la dirección de este equipo (averiguada al llamar)

## postern sin orden: la ventana

desktop-cannot-start =
    postern: { $error }
    (las órdenes funcionan sin ella: postern --help)
desktop-not-installed = la aplicación de escritorio no está instalada: no hay ningún { $program } junto a postern ni en el PATH
desktop-starting = al iniciar { $program }

## postern knock: el perfil y su clave

knock-no-saved-host = no hay ningún servidor guardado llamado { $name }; { hint-list }
knock-no-saved-host-but-file = no hay ningún servidor guardado llamado { $name }; para llamar con el archivo de ese nombre, escribe ./{ $file }; { hint-list }
knock-cannot-decrypt = no se puede descifrar { $file }
knock-refusing = se rechaza { $file }
knock-no-key = la clave de { $name } no está en el llavero; vuelve a importar su perfil
knock-no-fwknop-keys = las claves de fwknop de { $name } no están en el llavero; vuelve a añadir el servidor
knock-stored-key-refused = se rechaza { $file }: no lleva clave y no está firmado por el administrador de confianza de su servidor, así que la clave guardada para { $name } no se usa con él; llama al servidor guardado por su nombre o importa un perfil firmado
knock-other-signer = se rechaza { $file }: está firmado por { $signer }, pero la clave de administrador de confianza de este servidor es { $trusted }

## postern knock: el progreso (en stderr)

knock-knocking = postern: llamando a { $name } en { $addresses } ({ $method })
# Une las direcciones a las que va una llamada: "198.18.0.1 y fd00::1".
knock-and = { $first } y { $second }
knock-progress = postern: enviados { $index }/{ $total }
knock-checking-before = postern: comprobando si { $address } responde antes de la llamada
knock-waiting = postern: esperando a que se abra { $address }
knock-reknocking = postern: sigue cerrado; se llama una vez más

## postern knock: el resultado (en stdout)

knock-bound = vinculado a { $address } ({ $by })
knock-bound-none = vinculado a ninguna dirección: abre para cualquier dirección que llame
bound-by-own-address = la dirección propia de este equipo
bound-by-same-network = la dirección de este equipo en la red del servidor
bound-by-stun = dirección pública que indicó STUN ({ $servers })
bound-by-explicit = dirección fija del perfil
bound-by-url = dirección pública que indicó { $url }
knock-sent = llamada a { $name }: { $packets ->
        [one] { $packets } paquete enviado
       *[other] { $packets } paquetes enviados
    }
knock-verdict = { $name }: { $verdict }
verdict-open = abierto tras { $ms } ms{ $reknocked ->
        [yes] {" "}(tras una segunda llamada)
       *[no] {""}
    }
verdict-still-closed = sigue cerrado{ $reknocked ->
        [yes] , incluso tras una segunda llamada
       *[no] {""}
    }: comprueba que la hora de tu equipo es correcta y que tu perfil está al día
verdict-answered-before = se llamó, pero el puerto ya respondía antes de la llamada, así que no se sabe si la llamada funcionó: puede que siga abierto desde tu última llamada, que el puerto no esté protegido o que un proxy de tu red responda a todas las conexiones (si no logras conectarte, prueba con otra red)
verdict-no-tcp-door = enviada; este perfil no tiene ningún puerto TCP que comprobar

## postern knock: una llamada que falló, en palabras sencillas antes del error técnico

failure-offline = postern: Parece que este equipo no tiene conexión. Comprueba tu conexión a la red y vuelve a intentarlo.
failure-name-not-found = postern: No se encontró el nombre del servidor. Comprueba que tienes conexión; si vuelve a pasar, pregunta a tu administrador.
failure-own-address-unknown = postern: No se pudo averiguar la dirección de internet de este equipo. Comprueba que tienes conexión o prueba con otra red; si vuelve a pasar, pregunta a tu administrador.
failure-needs-permission = postern: Tu equipo no dejó que postern enviara la llamada. Ejecútalo como administrador (root) o pide a tu administrador un perfil que no necesite permisos especiales.
failure-profile-problem = postern: Los ajustes de este servidor no se pueden usar tal como están. Pide a tu administrador un archivo de perfil nuevo.
failure-other = postern: La llamada no funcionó. Vuelve a intentarlo; si vuelve a pasar, envía a tu administrador el mensaje de abajo.

## `postern --help`: la descripción del programa y de cada orden

about-postern = Llama para abrir un puerto en un cortafuegos (port knocking y autorización de un solo paquete).
about-no-command = Sin orden, postern abre su ventana.
about-knock = Llama a un servidor guardado (por su nombre) o con un archivo de perfil
about-list = Lista los servidores guardados
about-import = Importa un perfil .postern firmado (y quizá cifrado)
about-export = Muestra el perfil de un servidor guardado (sin firmar)
about-remove = Olvida un servidor guardado y su clave
about-import-knockd-door = Guarda un servidor protegido por knockd (una secuencia de llamada fija)
about-import-fwknoprc = Guarda los servidores fwknopd del ~/.fwknoprc de un cliente fwknop (con sus claves en el llavero): todos o, si hay un error, ninguno

## postern knock --verify: la comprobación de la hora tras una llamada que no abrió

knock-checking-clock = postern: preguntando a un servidor de hora si la hora de este equipo es correcta
clock-ahead = la hora de tu equipo va { $span } adelantada ({ $server }): pon la hora correcta (o activa la hora automática) y vuelve a llamar
clock-behind = la hora de tu equipo va { $span } atrasada ({ $server }): pon la hora correcta (o activa la hora automática) y vuelve a llamar
clock-right = la hora de tu equipo es correcta ({ $offset } s respecto a { $server }), así que no es el motivo
clock-unknown = no se pudo comprobar la hora de tu equipo: { $why }
span-seconds = { $n ->
        [one] { $n } segundo
       *[other] { $n } segundos
    }
span-minutes = { $n ->
        [one] { $n } minuto
       *[other] { $n } minutos
    }
span-hours = { $n ->
        [one] { $n } hora
       *[other] { $n } horas
    }
span-days = { $n ->
        [one] { $n } día
       *[other] { $n } días
    }
