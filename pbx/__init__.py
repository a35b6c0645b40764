"""Asterisk control: ARI controller, media transport, AMI, FastAGI."""
