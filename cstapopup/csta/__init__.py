"""The CSTA Phase III protocol (ECMA-269 / ECMA-285 over the Siemens 3-byte frame), without Qt."""
