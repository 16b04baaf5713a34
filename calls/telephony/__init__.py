"""Telephony carriers behind one interface: see ``base.CarrierClient`` and ``registry.carrier_for``."""
