"""The office gateway: one PBX link for a whole office, shared through an MQTT broker.

`service` holds the CSTA association and publishes every monitored device's events, its calls
under way (retained) and the link state (retained, with a last will); it carries out call
control requested by desktops within each broker user's rights (`rights`).  `client` is the
desktop's end (`GatewayClient`: the same items and call-control methods as `CstaClient`).
`wire` is the one place for topics and payloads; `calls` keeps what a device has under way.
Qt-free; it uses `cstapopup.csta` and nothing above it.  MQTT goes through aiomqtt (the
optional extra `cstapopup[gateway]`).
"""
