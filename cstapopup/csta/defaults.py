"""The HiPath factory defaults of a CSTA link: stated here once, used by the client, the
simulator, the commands and the settings."""

#: TCP port of a HiPath 3000's CSTA interface.
DEFAULT_PORT = 7001
#: TCP port of an OpenScape Business's CSTA interface.
OPENSCAPE_BUSINESS_PORT = 8800
#: The user name the PBX expects from CSTA applications.
DEFAULT_USER = "AMHOST"
#: The factory password of that user.
DEFAULT_PASSWORD = "77777"
#: CSTA links an OpenScape Business accepts at the same time.
MAX_LINKS = 4
