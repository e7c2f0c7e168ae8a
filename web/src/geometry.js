// The nearest point of a polygon's boundary, in a local equirectangular projection (metres
// are not needed: the service gives the distance; this only draws where it is measured).

export function nearestOnBoundary(geometry, [lat, lon]) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  const k = Math.cos((lat * Math.PI) / 180);
  let best = null;
  let bestD = Infinity;
  for (const polygon of polygons) {
    for (const ring of polygon) {
      for (let i = 1; i < ring.length; i++) {
        const [ax, ay] = [ring[i - 1][0] * k, ring[i - 1][1]];
        const [bx, by] = [ring[i][0] * k, ring[i][1]];
        const [px, py] = [lon * k, lat];
        const dx = bx - ax;
        const dy = by - ay;
        const len = dx * dx + dy * dy;
        const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
        const [qx, qy] = [ax + t * dx, ay + t * dy];
        const d = (qx - px) ** 2 + (qy - py) ** 2;
        if (d < bestD) { bestD = d; best = [qy, qx / k]; }
      }
    }
  }
  return best;
}
