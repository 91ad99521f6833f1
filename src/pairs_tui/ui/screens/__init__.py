"""The monitor's screens: the main one and the help screen."""
