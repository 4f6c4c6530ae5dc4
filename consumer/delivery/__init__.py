"""Delivery to one recipient through one provider, classified the way delivery.md prescribes."""
