"""Validates a FHIR R4 Bundle export with fhir.resources (the R4B/R4 models) and prints counts."""
import json
import sys

from fhir.resources.R4B.bundle import Bundle

with open(sys.argv[1], encoding="utf-8") as handle:
    data = json.load(handle)
bundle = Bundle.parse_obj(data) if hasattr(Bundle, "parse_obj") else Bundle.model_validate(data)
assert bundle.type == "collection", bundle.type
heart = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Observation"
         and any(c.system == "http://loinc.org" and c.code == "8867-4" for c in e.resource.code.coding)]
breathing = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Observation"
             and any(c.code == "9279-1" for c in e.resource.code.coding)]
devices = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Device"]
assert len(devices) == 1, "one kiosk"
device_url = bundle.entry[0].fullUrl
for observation in heart + breathing:
    assert observation.status == "final"
    assert observation.valueQuantity.code == "/min" and observation.valueQuantity.system == "http://unitsofmeasure.org"
    assert observation.effectiveDateTime is not None
    assert observation.device.reference == device_url
for observation in heart:
    assert observation.note and observation.note[0].text.startswith("Reading quality: ")
print(f"heart rate observations: {len(heart)}")
print(f"respiratory rate observations: {len(breathing)}")
