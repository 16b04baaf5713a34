"""Everything we know about telephony carriers, behind one interface (``base.CarrierClient``,
``media.MediaProtocol``): one module per carrier (``twilio``, ``plivo``), each ending in the
``CarrierSpec`` that ``registry.CARRIERS`` lists; the platform credentials that build a client
(``credentials``); the URLs and signed call references we hand carriers (``urls``); and the
check that a webhook was signed (``signatures``). Nothing here imports the calls models,
services or views."""
