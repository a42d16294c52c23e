"""SQLModel tables (the app DB on the main server) and how to reach them."""

from models.tables import Frame, GpsPoint, Plate, SeenFile, Sighting, Stage, Trip, TripEvent, Video

__all__ = ["Frame", "GpsPoint", "Plate", "SeenFile", "Sighting", "Stage", "Trip", "TripEvent", "Video"]
