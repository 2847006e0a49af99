// Icons from the vendored Bootstrap Icons sprite (static/vendor/bootstrap-icons/sprite.svg).

const SVG = 'http://www.w3.org/2000/svg';

export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'bi');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', `${document.body.dataset.sprite}#${name}`);
  svg.append(use);
  return svg;
}
