<?php
declare(strict_types=1);

namespace Bench;

final class CatalogController extends Controller
{
    public function index(Request $request): string
    {
        /** @var ProductRepository $repo */
        $repo = $this->container->get(ProductRepository::class);
        /** @var View $view */
        $view = $this->container->get(View::class);
        $page = max(1, $request->int('page', 1));
        $products = $repo->all()
            ->filter(fn (Product $p) => $p->stock > 0)
            ->sort(fn (Product $a, Product $b) => $b->rating() <=> $a->rating() ?: $a->id <=> $b->id);
        $paginator = new Paginator($products->count(), 64, $page);
        $rows = $products->slice($paginator->offset(), $paginator->perPage);
        $content = $view->productTable($rows) . $view->paginator($paginator, '/page.php');
        $crumbs = new Breadcrumbs();
        $crumbs->add('Home', '/')->add('Catalog', '/page.php')->add('Page ' . $page, null);
        return $this->render('Catalog', $content, $crumbs->all());
    }
}
