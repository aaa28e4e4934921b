<?php
declare(strict_types=1);

namespace Bench;

final class Layout
{
    public function __construct(private Menu $menu, private Escaper $e, private Config $config)
    {
    }

    /** @param list<array{0: string, 1: ?string}> $crumbs */
    public function render(string $title, string $content, array $crumbs): string
    {
        $e = $this->e;
        $site = (string) $this->config->get('site.name', 'Shop');
        $trail = [];
        foreach ($crumbs as [$label, $href]) {
            $trail[] = $href === null ? $e->html($label) : '<a href="' . $e->attr($href) . '">' . $e->html($label) . '</a>';
        }
        return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            . '<title>' . $e->html($title . ' — ' . $site) . "</title>\n"
            . "<link rel=\"stylesheet\" href=\"/static/site.css\">\n</head>\n<body>\n"
            . '<header><h1>' . $e->html($site) . '</h1>' . $this->menu->render('/page.php') . "</header>\n"
            . '<nav class="crumbs">' . implode(' › ', $trail) . "</nav>\n"
            . "<main>\n<h2>" . $e->html($title) . "</h2>\n" . $content . "</main>\n"
            . '<footer>© ' . $e->html($site) . ' · rendered by PHP ' . PHP_VERSION . "</footer>\n</body>\n</html>\n";
    }
}
